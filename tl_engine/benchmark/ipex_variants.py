"""Variants built with Intel Extension for PyTorch (IPEX), used only where IPEX is installed.

IPEX 2.8 needs torch 2.8, so it lives in the optional environment that `make ipex-env` creates.
It is imported only on these variants' code path, in the benchmark worker's own process: once
imported, Neural Compressor switches to its deprecated IPEX backend.
"""

from __future__ import annotations

import logging
import sys

import torch

from tl_engine.benchmark import ipex_available
from tl_engine.errors import TLError

logger = logging.getLogger(__name__)

IPEX_VARIANTS = ("ipex_fp32", "ipex_bf16", "ipex_int8")


def _freeze(module: torch.nn.Module, example: torch.Tensor) -> torch.nn.Module:
    with torch.no_grad():
        return torch.jit.freeze(torch.jit.trace(module, example, check_trace=False))


def build_ipex_variant(module: torch.nn.Module, variant: str, example, calibration=()) -> torch.nn.Module:
    """Return `module` optimized by IPEX for one of IPEX_VARIANTS.

    `ipex_fp32` and `ipex_bf16` go through `ipex.optimize`, and image models are then traced and
    frozen with TorchScript. `ipex_int8` is IPEX static quantization, calibrated on the
    `calibration` batches, and takes image models only.
    """
    if not ipex_available():
        raise TLError(f"Intel Extension for PyTorch is not installed for {sys.executable}, so {variant!r} cannot "
                      "run. Create its environment with `make ipex-env` and run the variant with "
                      ".venv-ipex/bin/python (BenchmarkSettings(python=...)).")
    import intel_extension_for_pytorch as ipex

    module = module.eval()
    image_input = isinstance(example, torch.Tensor)
    if variant == "ipex_fp32":
        optimized = ipex.optimize(module, dtype=torch.float32)
        return _freeze(optimized, example) if image_input else optimized
    if variant == "ipex_bf16":
        optimized = ipex.optimize(module, dtype=torch.bfloat16)
        if not image_input:
            return _Autocast(optimized)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return _Float32(_freeze(optimized, example))
    if variant == "ipex_int8":
        if not image_input:
            raise TLError("ipex_int8 needs an image model. Text models use int8_dynamic.")
        if not calibration:
            raise TLError("ipex_int8 needs calibration images, or its INT8 scales are meaningless. Pass training "
                          "image paths as BenchmarkSettings(calibration=[...]).")
        from intel_extension_for_pytorch.quantization import convert, prepare

        prepared = prepare(module, ipex.quantization.default_static_qconfig_mapping, example_inputs=example,
                           inplace=False)
        with torch.no_grad():
            for batch in calibration:
                prepared(batch)
        return _freeze(convert(prepared), example)
    raise ValueError(f"Unknown IPEX variant {variant!r}. Valid variants: {', '.join(IPEX_VARIANTS)}.")


class _Float32(torch.nn.Module):
    """Returns a bfloat16 module's outputs as float32."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, inputs):
        return self.module(inputs).float()


class _Autocast(torch.nn.Module):
    """Runs a module under bfloat16 autocast and returns float32 outputs."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, inputs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.module(inputs).float()
