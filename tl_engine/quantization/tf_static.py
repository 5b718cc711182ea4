"""Static INT8 of a trained TensorFlow image classifier: its SavedModel through Intel Neural Compressor 3.10.

INC quantizes SavedModel folders only, and needs real calibration images: with its default dummy
data the INT8 model's predictions were wrong. So the classifier is saved to a temporary
SavedModel, calibrated on up to `calibration_samples` training images, and the INT8 SavedModel
is written beside a `tl_metadata.json` with the same keys as the PyTorch INT8 export's.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from tl_engine.models.tf_image import SAVED_MODEL_DIR, nhwc
from tl_engine.store import METADATA_FILE, atomic_directory, write_json_atomic

logger = logging.getLogger(__name__)


def calibration_batches(dataset, calibration_samples: int):
    """Yield NHWC float32 batches of shuffled training images, `calibration_samples` images in all."""
    seen = 0
    for inputs, _ in dataset.loader("train", shuffle=True):
        batch = nhwc(inputs)[:calibration_samples - seen]
        seen += len(batch)
        yield batch
        if seen >= calibration_samples:
            return


def quantize_tf_classifier(classifier, dataset, output_dir: str | Path, calibration_samples: int = 256,
                           progress: bool = False, extra_metadata: dict | None = None) -> Path:
    """Quantize a trained TensorFlow image classifier to INT8; write `saved_model/` and `tl_metadata.json`."""
    from tl_engine.quantization.tf_int8 import quantize_saved_model

    started = time.perf_counter()
    classifier._check_dataset(dataset)
    output_dir = Path(output_dir)
    with tempfile.TemporaryDirectory(prefix="tl-fp32-savedmodel-") as scratch, \
            atomic_directory(output_dir) as temporary:
        fp32_dir = Path(scratch) / SAVED_MODEL_DIR
        classifier.model.save(fp32_dir, include_optimizer=False, save_format="tf")
        recipe = quantize_saved_model(fp32_dir, calibration_batches(dataset, calibration_samples),
                                      temporary / SAVED_MODEL_DIR, calibration_samples)
        metadata = {**classifier.metadata(), "format": "tf_saved_model_int8", "weights_file": SAVED_MODEL_DIR,
                    "quantization": {"tool": "neural-compressor 3.10", "approach": "static", "path": "SavedModel",
                                     **recipe, "seconds": round(time.perf_counter() - started, 2)},
                    **(extra_metadata or {})}
        write_json_atomic(temporary / METADATA_FILE, metadata)
    logger.info("Quantized %s (tensorflow) to INT8 in %s", classifier.name, output_dir)
    return output_dir
