"""Variants built with Intel Extension for PyTorch (IPEX), used only where IPEX is installed.

IPEX 2.8 needs torch 2.8, so it lives in the optional environment that `make ipex-env` creates.
It is imported only on these variants' code path, in the benchmark worker's own process: once
imported, Neural Compressor switches to its deprecated IPEX backend.
"""

from __future__ import annotations

import copy
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


def _plain_same_padding_convs(module: torch.nn.Module) -> int:
    """Replace, in place, each convolution that pads in its own forward with a plain nn.Conv2d.

    EfficientNet ports (the `efficientnet_lite_pytorch` package among them) subclass nn.Conv2d with a
    forward that applies a `static_padding` module and then F.conv2d. torch.fx traces through that
    forward, so the conv-batch-norm folding that IPEX's `prepare` runs on nn.Conv2d modules finds no
    match, and the batch norms stay in the INT8 graph as float32 ops between the INT8 convolutions
    (IPEX 2.8). Returns how many convolutions were replaced.
    """
    replaced = 0
    for name, child in list(module.named_children()):
        plain = None
        pads_itself = type(child) is not torch.nn.Conv2d and hasattr(child, "static_padding")
        if isinstance(child, torch.nn.Conv2d) and pads_itself:
            plain = _plain_conv(child)
        if plain is None:
            replaced += _plain_same_padding_convs(child)
        else:
            setattr(module, name, plain)
            replaced += 1
    return replaced


def _plain_conv(conv: torch.nn.Conv2d) -> torch.nn.Conv2d | None:
    """Return an nn.Conv2d equal to `conv` with its `static_padding`, or None for a padding it cannot absorb.

    The padding becomes the convolution's own. TensorFlow's "SAME" padding puts the extra pixel of an
    odd total on the right and bottom. Such an asymmetric ZeroPad2d becomes symmetric padding of its
    larger side, and the kernel gets leading rows and columns of zeros for the difference, so each
    output reads the same input pixels. A ZeroPad2d left in front of a convolution kept the INT8 graph
    from fusing it. In EfficientNet-Lite0, 5 such pads took 36% of the INT8 time (IPEX 2.8, 1 thread,
    torch.profiler on an Intel Xeon with AMX).
    """
    pad = conv.static_padding
    if isinstance(pad, torch.nn.ZeroPad2d):
        left, right, top, bottom = pad.padding
    elif type(pad).__name__ == "Identity" and not list(pad.parameters()):
        left = right = top = bottom = 0
    else:
        return None
    if not isinstance(conv.padding, tuple) or conv.padding_mode != "zeros" or right < left or bottom < top:
        return None
    extra_rows, extra_columns = bottom - top, right - left
    if (extra_rows or extra_columns) and tuple(conv.dilation) != (1, 1):
        return None
    rows, columns = conv.kernel_size
    plain = torch.nn.Conv2d(conv.in_channels, conv.out_channels, (rows + extra_rows, columns + extra_columns),
                            conv.stride, (conv.padding[0] + bottom, conv.padding[1] + right), conv.dilation,
                            conv.groups, conv.bias is not None)
    with torch.no_grad():
        plain.weight.zero_()
        plain.weight[:, :, extra_rows:, extra_columns:] = conv.weight
        if conv.bias is not None:
            plain.bias.copy_(conv.bias)
    # A new module starts in training mode. Batch-norm folding raises on such a module, and IPEX then
    # logs "BatchNorm folding failed" and folds no batch norm at all.
    plain.train(conv.training)
    return plain


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

        module = copy.deepcopy(module)
        replaced = _plain_same_padding_convs(module)
        if replaced:
            logger.info("Replaced %d same-padding convolutions with nn.Conv2d before INT8 quantization", replaced)
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
