"""Export of trained models to ONNX, checked by running the file in onnxruntime against the original."""

from __future__ import annotations

import logging
from pathlib import Path

from tl_engine.errors import ArtifactError, CatalogError
from tl_engine.store import METADATA_FILE, atomic_directory, describe_format, read_metadata, write_json_atomic

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
# Largest difference between onnxruntime's and PyTorch's logits that the check accepts, relative to
# the largest logit (at least 1), because float32 rounding grows with the logits' size.
MAX_RELATIVE_DIFFERENCE = 1e-4


def export_onnx(model_dir: str | Path, output_dir: str | Path, check_samples: int = 4) -> dict:
    """Export a trained FP32 model directory to `output_dir/model.onnx` with a dynamic batch size.

    The file is run in onnxruntime on `check_samples` random inputs and compared with the original
    model. A difference above `MAX_RELATIVE_DIFFERENCE` fails the export, and nothing is written.
    Returns the metadata written beside the file.

    Example:
        >>> export_onnx("out/fp32", "out/onnx")["onnx"]["max_relative_difference"]
    """
    import numpy as np
    import onnxruntime
    import torch

    from tl_engine.model_factory import load_model

    metadata = read_metadata(Path(model_dir))
    if metadata.get("framework") != "pytorch":
        hint = (" Its saved_model/ folder is what TensorFlow Serving and tf2onnx read."
                if metadata.get("format") == "tf_saved_model" else "")
        raise CatalogError(f"ONNX export is implemented for PyTorch models only; {model_dir} contains "
                           f"{describe_format(metadata.get('format'))}.{hint}")
    model = load_model(model_dir)
    generator = torch.Generator().manual_seed(0)
    batch = torch.export.Dim("batch", min=1, max=4096)
    if model.use_case == "text_classification":
        from tl_engine.models.hf_text import PositionalLogits

        module = PositionalLogits(model.model.eval())
        sequence = torch.export.Dim("sequence", min=2, max=model.max_length)

        def token_batch(size: int) -> tuple:
            ids = torch.randint(1000, 20000, (size, 16), generator=generator)
            return ids, torch.ones_like(ids)

        example, inputs = token_batch(2), token_batch(check_samples)
        dynamic_shapes = ({0: batch, 1: sequence}, {0: batch, 1: sequence})
    else:
        module = model.model.eval()
        size = model.image_size
        example = (torch.randn(2, 3, size, size),)
        inputs = (torch.randn(check_samples, 3, size, size, generator=generator),)
        dynamic_shapes = ({0: batch},)
    program = torch.onnx.export(module, example, dynamo=True, verbose=False, dynamic_shapes=dynamic_shapes)
    with torch.inference_mode():
        expected = module(*inputs).numpy()
    output_dir = Path(output_dir)
    with atomic_directory(output_dir) as temporary:
        program.save(str(temporary / ONNX_FILE))
        session = onnxruntime.InferenceSession(str(temporary / ONNX_FILE), providers=["CPUExecutionProvider"])
        names = [node.name for node in session.get_inputs()]
        actual = session.run(None, {name: value.numpy() for name, value in zip(names, inputs)})[0]
        difference = float(np.abs(actual - expected).max())
        relative = difference / max(1.0, float(np.abs(expected).max()))
        if relative > MAX_RELATIVE_DIFFERENCE:
            raise ArtifactError(f"The ONNX export of {model_dir} differs from the PyTorch model by {relative:.2e} "
                                f"of the largest logit (more than {MAX_RELATIVE_DIFFERENCE}); nothing was written.")
        metadata = {**read_metadata(Path(model_dir)), "format": "onnx", "weights_file": ONNX_FILE,
                    "onnx": {"input_names": names, "dynamic_batch": True, "check_samples": check_samples,
                             "max_abs_difference": difference,
                             "max_relative_difference": relative, "onnxruntime": onnxruntime.__version__}}
        write_json_atomic(temporary / METADATA_FILE, metadata)
    logger.info("Exported %s to %s (largest relative difference from PyTorch %.1e)", model.name, output_dir,
                relative)
    return metadata
