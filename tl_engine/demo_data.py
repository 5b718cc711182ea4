"""The demo dataset: Fashion-MNIST written as an image folder spread over daily landing folders.

The IDX files come from Debian's `dataset-fashion-mnist` package, unpacked (not installed) by
`make setup` into `.cache/debian/`.
"""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tl_engine.errors import DatasetError

logger = logging.getLogger(__name__)

FASHION_MNIST_CLASSES = ["t-shirt_top", "trouser", "pullover", "dress", "coat",
                         "sandal", "shirt", "sneaker", "bag", "ankle_boot"]
FASHION_MNIST_SUBDIR = "usr/share/datasets/fashion-mnist"
READY_MARKER = "_READY"


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip-compressed IDX file (the MNIST format) into a uint8 array."""
    data = gzip.open(path).read()
    dimensions = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dimensions)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dimensions).reshape(shape)


def load_fashion_mnist(unpacked_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return the 60,000 training images and labels from an unpacked `dataset-fashion-mnist` package."""
    folder = Path(unpacked_root) / FASHION_MNIST_SUBDIR
    images_file = folder / "train-images-idx3-ubyte.gz"
    if not images_file.is_file():
        raise DatasetError(f"Fashion-MNIST not found at {images_file}. Run `make setup`, which unpacks Debian's "
                           "dataset-fashion-mnist package there.")
    return read_idx(images_file), read_idx(folder / "train-labels-idx1-ubyte.gz")


def write_landing_drops(unpacked_root: Path, landing_dir: Path, days: list[str], samples: int,
                        seed: int = 0) -> dict[str, int]:
    """Write `samples` stratified Fashion-MNIST images as PNG files into `landing_dir/<day>/<class>/`.

    The images are divided evenly over `days`. Each day folder is written under a temporary name,
    gets a `_READY` marker and is then renamed into place, so a reader never sees half a day.
    Existing day folders are left as they are. Returns the number of images written per day.
    """
    images, labels = load_fashion_mnist(unpacked_root)
    rng = np.random.default_rng(seed)
    per_class = samples // len(FASHION_MNIST_CLASSES)
    chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class]
                             for c in range(len(FASHION_MNIST_CLASSES))])
    chosen = rng.permutation(chosen)
    written = {}
    for day, day_indices in zip(days, np.array_split(chosen, len(days))):
        final = Path(landing_dir) / day
        if final.exists():
            written[day] = 0
            continue
        temporary = final.with_name(f".{day}.partial")
        shutil.rmtree(temporary, ignore_errors=True)
        for index in day_indices:
            class_dir = temporary / FASHION_MNIST_CLASSES[labels[index]]
            class_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[index]).save(class_dir / f"fmnist_{index:05d}.png")
        (temporary / READY_MARKER).touch()
        temporary.rename(final)
        written[day] = len(day_indices)
        logger.info("Wrote %d images to %s", len(day_indices), final)
    return written
