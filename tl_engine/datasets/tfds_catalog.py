"""TensorFlow Datasets' catalog, written out as an image folder so it behaves like a custom dataset."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from tl_engine.datasets.image_folder import ImageClassificationDataset
from tl_engine.errors import DatasetError
from tl_engine.tf_runtime import tensorflow

logger = logging.getLogger(__name__)


def load_tfds_dataset(name: str, dataset_dir: Path, split: str, framework: str,
                      download: bool) -> ImageClassificationDataset:
    """Fetch a TFDS image classification dataset and write it as `dataset_dir/<name>/<split>/<class>/<n>.png`.

    TFDS keeps its own files under `dataset_dir/<name>/raw`. The PNG folder is written once, to a
    temporary folder renamed into place, and read like any custom image folder afterwards.
    """
    folder = dataset_dir / name / split.replace("/", "_").replace(":", "_")
    if not folder.is_dir():
        tensorflow()
        import tensorflow_datasets as tfds
        from PIL import Image

        try:
            source, info = tfds.load(name, split=split, data_dir=str(dataset_dir / name / "raw"), download=download,
                                     as_supervised=True, with_info=True)
        except Exception as exc:  # TFDS raises many types: DatasetNotFoundError, AssertionError, OSError...
            raise DatasetError(f"Could not load TensorFlow Datasets dataset {name!r} (split {split!r}) into "
                               f"{dataset_dir}: {exc}. Connect to the network, or pass download=False with the "
                               "files in place.") from exc
        label = info.supervised_keys[1] if info.supervised_keys else "label"
        classes = list(info.features[label].names)
        temporary = folder.with_name(folder.name + ".partial")
        shutil.rmtree(temporary, ignore_errors=True)
        count = 0
        for count, (image, label_id) in enumerate(tfds.as_numpy(source), start=1):
            class_dir = temporary / classes[int(label_id)].replace("/", "_")
            class_dir.mkdir(parents=True, exist_ok=True)
            pixels = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
            Image.fromarray(pixels).save(class_dir / f"{count:06d}.png")
        temporary.rename(folder)
        logger.info("Wrote %d images of %s to %s", count, name, folder)
    return ImageClassificationDataset.from_folder(folder, framework=framework)
