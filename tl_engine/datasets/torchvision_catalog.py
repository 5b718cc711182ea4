"""torchvision's dataset catalog, written out as an image folder so it behaves like a custom dataset."""

from __future__ import annotations

import logging
from pathlib import Path

from tl_engine.datasets.image_folder import ImageClassificationDataset
from tl_engine.errors import DatasetError

logger = logging.getLogger(__name__)


def load_torchvision_dataset(name: str, dataset_dir: Path, split: str, framework: str,
                             download: bool) -> ImageClassificationDataset:
    """Fetch a torchvision classification dataset and write it as `dataset_dir/<name>/<class>/<n>.png`."""
    import torchvision.datasets as tvd

    dataset_class = getattr(tvd, name, None)
    if dataset_class is None:
        raise DatasetError(f"torchvision has no dataset {name!r}. Examples: FashionMNIST, CIFAR10, MNIST.")
    folder = dataset_dir / name / split
    if not folder.is_dir():
        try:
            source = dataset_class(root=str(dataset_dir / name / "raw"), train=(split == "train"), download=download)
        except (RuntimeError, OSError) as exc:
            raise DatasetError(f"Could not load torchvision dataset {name} into {dataset_dir}: {exc}. "
                               "Connect to the network or pass download=False with the files in place.") from exc
        classes = list(source.classes)
        temporary = folder.with_name(folder.name + ".partial")
        for index, (image, label) in enumerate(source):
            class_dir = temporary / classes[label].replace("/", "_")
            class_dir.mkdir(parents=True, exist_ok=True)
            image.save(class_dir / f"{index:06d}.png")
        temporary.rename(folder)
        logger.info("Wrote %d images of %s to %s", index + 1, name, folder)
    return ImageClassificationDataset.from_folder(folder, framework=framework)
