"""INT8 quantization, one module per framework, behind one `quantize` function."""

from __future__ import annotations

from pathlib import Path

from tl_engine.errors import CatalogError


def quantize(model, dataset, output_dir: str | Path, calibration_samples: int = 256,
             progress: bool = False) -> Path:
    """Quantize a trained model to INT8 and return the new model directory.

    Image models: Intel Neural Compressor's static quantization (PT2E for PyTorch, the SavedModel
    for TensorFlow), calibrated on up to `calibration_samples` images of the dataset's train subset. Text models: dynamic quantization
    of the linear layers, which needs no calibration (`dataset` is not read).

    Returns the new model directory, which `tl_engine.benchmark.benchmark_model` measures.

    Example:
        >>> int8_dir = quantize(model, dataset, "out/int8", calibration_samples=256)
    """
    if model.framework == "pytorch" and model.use_case == "image_classification":
        from tl_engine.quantization.torch_int8 import quantize_static

        return quantize_static(model, dataset, output_dir, calibration_samples, progress)
    if model.framework == "tensorflow" and model.use_case == "image_classification":
        from tl_engine.quantization.tf_static import quantize_tf_classifier

        return quantize_tf_classifier(model, dataset, output_dir, calibration_samples, progress)
    if model.framework == "pytorch" and model.use_case == "text_classification":
        from tl_engine.quantization.hf_dynamic import quantize_dynamic

        return quantize_dynamic(model, output_dir)
    raise CatalogError(f"INT8 quantization of {model.use_case} models in {model.framework} is not implemented yet.")
