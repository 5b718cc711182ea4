"""The benchmark harness: each model variant timed in a fresh process."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from tl_engine.errors import ArtifactError


def ipex_available() -> bool:
    """Return whether Intel Extension for PyTorch can be imported here, checked without importing it."""
    return importlib.util.find_spec("intel_extension_for_pytorch") is not None


def benchmark_model(model_dir: str | Path, batch_sizes: Sequence[int] = (1, 32), iterations: int = 20,
                    warmup: int = 5, threads: int | None = None, compiled: bool = True,
                    bfloat16: bool = False, ipex: bool | None = None) -> dict:
    """Time a model directory (FP32 or INT8) in a fresh process; return latency and throughput per batch size.

    FP32 models run compiled with `torch.compile` unless `compiled=False`, and with their weights
    cast to bfloat16 when `bfloat16=True` (an INT8 folder then raises ArtifactError). INT8 image
    models always run compiled, because only the compiled graph uses INT8 kernels; dynamic INT8
    text models run eager, with PyTorch's quantized kernels. TensorFlow SavedModels run the same
    variants in TensorFlow's terms: eager Keras calls, or a compiled graph (see
    `tl_engine.benchmark.tf_variants`).

    Where Intel Extension for PyTorch is installed (the environment `make ipex-env` creates), a
    compiled FP32 or bfloat16 model runs through `ipex.optimize` and a TorchScript trace instead of
    `torch.compile` (variants `ipex_fp32` and `ipex_bf16`). `ipex=None` decides by whether IPEX is
    installed, `ipex=False` turns it off, and `ipex=True` requires it (the worker raises TLError
    without it). Eager runs (`compiled=False`) never use IPEX.

    Example:
        >>> result = benchmark_model("out/fp32", batch_sizes=[32], iterations=10)
        >>> result["timings"][0]["throughput_per_s"]
    """
    from tl_engine.benchmark.harness import BenchmarkSettings, run_variant
    from tl_engine.store import FP32_FORMATS, describe_format, read_metadata

    model_dir = Path(model_dir)
    model_format = read_metadata(model_dir).get("format")
    if bfloat16 and model_format not in FP32_FORMATS:
        raise ArtifactError(f"{model_dir} contains {describe_format(model_format)}; bfloat16 applies to FP32 "
                            "models only. Pass the FP32 model folder that `tl train` wrote.")
    if model_format in ("torch_export_int8", "tf_saved_model_int8"):
        variant = "int8_compiled"
    elif model_format == "hf_dynamic_int8":
        variant = "int8_dynamic"
    elif model_format in FP32_FORMATS:
        variant = f"{'bf16' if bfloat16 else 'fp32'}_{'compiled' if compiled else 'eager'}"
        torch_model = model_format != "tf_saved_model"
        if torch_model and compiled and (ipex or (ipex is None and ipex_available())):
            variant = "ipex_bf16" if bfloat16 else "ipex_fp32"
    else:
        raise ArtifactError(f"Cannot benchmark {model_dir}: it contains {describe_format(model_format)}, and "
                            "only FP32 and INT8 models are measured.")
    settings = BenchmarkSettings(batch_sizes=list(batch_sizes), warmup=warmup, iterations=iterations)
    if threads:
        settings.threads = threads
    return run_variant(model_dir, variant, settings)
