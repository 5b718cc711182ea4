"""Image-folder datasets: both layouts, image modes, seeded stratified splits and bad input."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import FLAT_CLASS_COUNTS, SPLIT_CLASS_COUNTS, SPLIT_CLASSES, save_png
from tl_engine.dataset_factory import load_dataset
from tl_engine.datasets.splits import SPLIT_NAMES, hash_split
from tl_engine.errors import DatasetError

# Mean 0 and std 1 leave pixels scaled to [0, 1], so expected values can be written as colour / 255.
IDENTITY_PREPROCESSING = {"input_size": 64, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
IMAGENET_PREPROCESSING = {"input_size": 64, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def class_split_counts(dataset) -> dict[tuple[str, str], int]:
    """Count the samples of each (class, split) pair."""
    counts: Counter = Counter()
    for split_name in SPLIT_NAMES:
        for index in dataset.splits[split_name]:
            counts[(dataset.samples[index].class_name, split_name)] += 1
    return dict(counts)


def copy_dataset(source: Path, target: Path) -> Path:
    """Copy a session dataset so that a test can add or remove files."""
    shutil.copytree(source, target)
    return target


# Layouts


def test_flat_layout_finds_classes(flat_dataset_dir):
    dataset = load_dataset(flat_dataset_dir, "image_classification")

    assert dataset.class_names == sorted(FLAT_CLASS_COUNTS)
    assert dataset.class_counts() == FLAT_CLASS_COUNTS
    assert dataset.skipped == []


def test_flat_layout_puts_all_in_train(flat_dataset_dir):
    dataset = load_dataset(flat_dataset_dir, "image_classification")

    assert len(dataset.splits["train"]) == sum(FLAT_CLASS_COUNTS.values())
    assert dataset.splits["validation"] == []
    assert dataset.splits["test"] == []


def test_split_layout_keeps_folder_splits(split_dataset_dir):
    dataset = load_dataset(split_dataset_dir, "image_classification")

    assert dataset.class_names == sorted(SPLIT_CLASSES)
    for split_name, per_class in SPLIT_CLASS_COUNTS.items():
        assert len(dataset.splits[split_name]) == per_class * len(SPLIT_CLASSES), split_name


def test_split_layout_sample_ids_name_split(split_dataset_dir):
    dataset = load_dataset(split_dataset_dir, "image_classification")

    for split_name in SPLIT_NAMES:
        for index in dataset.splits[split_name]:
            sample = dataset.samples[index]
            assert sample.sample_id.startswith(f"{split_name}/{sample.class_name}/"), sample.sample_id


def test_split_layout_batch_has_input_size(split_dataset_dir):
    dataset = load_dataset(split_dataset_dir, "image_classification")
    dataset.preprocess(IMAGENET_PREPROCESSING, batch_size=8)

    images, labels = dataset.get_batch("test")

    assert images.shape == (8, 3, 64, 64)
    assert images.dtype == torch.float32
    assert labels.shape == (8,)


def test_load_dataset_unknown_use_case_raises(flat_dataset_dir):
    with pytest.raises(DatasetError) as excinfo:
        load_dataset(flat_dataset_dir, "object_detection")

    assert "'object_detection'" in str(excinfo.value)


# Image modes: every PNG becomes a 3-channel tensor of the model's input size.


@pytest.fixture(scope="module")
def image_mode_batch(tmp_path_factory):
    """One batch of a dataset whose classes are PNG modes, with each image's class name.

    Every image has a known colour in its top-left quarter, and the images are not square and not
    64 px, so the batch shows the resize and centre crop as well as the mode conversion.
    """
    root = tmp_path_factory.mktemp("modes")

    gray = np.full((30, 40), 128, dtype=np.uint8)
    save_png(Image.fromarray(gray, mode="L"), root / "gray" / "gray_a.png")
    save_png(Image.fromarray(gray, mode="L").resize((90, 70)), root / "gray" / "gray_b.png")

    rgba = np.zeros((50, 80, 4), dtype=np.uint8)
    rgba[..., :3] = (255, 0, 0)
    rgba[:, 40:, 3] = 255  # the left half is transparent red, the right half opaque red
    save_png(Image.fromarray(rgba, mode="RGBA"), root / "rgba" / "rgba_a.png")
    save_png(Image.fromarray(rgba, mode="RGBA").resize((120, 75)), root / "rgba" / "rgba_b.png")

    palette_colors = [10, 20, 30, 200, 100, 50]
    for class_name, transparent in (("palette", False), ("palette_transparent", True)):
        for file_name, size in (("a", (40, 30)), ("b", (100, 66))):
            indices = np.zeros((size[1], size[0]), dtype=np.uint8)
            indices[:, size[0] // 2:] = 1
            image = Image.fromarray(indices, mode="P")
            image.putpalette(palette_colors + [0] * (768 - len(palette_colors)))
            if transparent:
                image.info["transparency"] = 0  # palette index 0, the left half, is transparent
            save_png(image, root / class_name / f"{class_name}_{file_name}.png")

    dataset = load_dataset(root, "image_classification")
    dataset.preprocess(IDENTITY_PREPROCESSING, batch_size=8)
    images, labels = dataset.get_batch("train")
    class_names = [dataset.class_names[label] for label in labels.tolist()]
    return images, class_names


def top_left_pixels(images: torch.Tensor, class_names: list[str], class_name: str) -> list[torch.Tensor]:
    """Return the RGB value at (4, 4) of each image of one class."""
    return [images[i, :, 4, 4] for i, name in enumerate(class_names) if name == class_name]


def test_image_modes_batch_shape(image_mode_batch):
    images, class_names = image_mode_batch

    assert images.shape == (8, 3, 64, 64)
    assert sorted(set(class_names)) == ["gray", "palette", "palette_transparent", "rgba"]


def test_grayscale_png_repeats_channel(image_mode_batch):
    pixels = top_left_pixels(*image_mode_batch, "gray")

    assert len(pixels) == 2
    for pixel in pixels:
        assert torch.allclose(pixel, torch.full((3,), 128 / 255)), pixel


def test_rgba_transparent_becomes_white(image_mode_batch):
    pixels = top_left_pixels(*image_mode_batch, "rgba")

    assert len(pixels) == 2
    for pixel in pixels:
        assert torch.equal(pixel, torch.ones(3)), pixel


def test_rgba_opaque_keeps_color(image_mode_batch):
    images, class_names = image_mode_batch

    right_pixels = [images[i, :, 4, -5] for i, name in enumerate(class_names) if name == "rgba"]

    assert len(right_pixels) == 2
    for pixel in right_pixels:
        assert torch.equal(pixel, torch.tensor([1.0, 0.0, 0.0])), pixel


def test_palette_png_keeps_colors(image_mode_batch):
    pixels = top_left_pixels(*image_mode_batch, "palette")

    assert len(pixels) == 2
    for pixel in pixels:
        assert torch.allclose(pixel, torch.tensor([10, 20, 30]) / 255), pixel


def test_palette_transparency_becomes_white(image_mode_batch):
    pixels = top_left_pixels(*image_mode_batch, "palette_transparent")

    assert len(pixels) == 2
    for pixel in pixels:
        assert torch.equal(pixel, torch.ones(3)), pixel


def test_get_batch_before_preprocess_raises(flat_dataset_dir):
    dataset = load_dataset(flat_dataset_dir, "image_classification")

    with pytest.raises(DatasetError) as excinfo:
        dataset.get_batch("train")

    assert "preprocess" in str(excinfo.value)


def test_preprocess_missing_keys_raises(flat_dataset_dir):
    dataset = load_dataset(flat_dataset_dir, "image_classification")

    with pytest.raises(DatasetError) as excinfo:
        dataset.preprocess({"input_size": 64}, batch_size=8)

    assert "'mean'" in str(excinfo.value)
    assert "'std'" in str(excinfo.value)


# Seeded, stratified splits


def test_shuffle_split_same_seed_repeats(flat_dataset_dir):
    first = load_dataset(flat_dataset_dir, "image_classification")
    second = load_dataset(flat_dataset_dir, "image_classification")

    first.shuffle_split(0.6, 0.2, 0.2, seed=3)
    second.shuffle_split(0.6, 0.2, 0.2, seed=3)

    assert first.splits == second.splits


def test_shuffle_split_other_seed_differs(flat_dataset_dir):
    dataset = load_dataset(flat_dataset_dir, "image_classification")

    dataset.shuffle_split(0.6, 0.2, 0.2, seed=3)
    seed_3 = dataset.splits
    dataset.shuffle_split(0.6, 0.2, 0.2, seed=4)

    assert dataset.splits["test"] != seed_3["test"]


def test_shuffle_split_partitions_samples(flat_dataset_dir):
    dataset = load_dataset(flat_dataset_dir, "image_classification")
    dataset.shuffle_split(0.6, 0.2, 0.2, seed=0)

    members = [index for split_name in SPLIT_NAMES for index in dataset.splits[split_name]]

    assert sorted(members) == list(range(len(dataset)))


@pytest.mark.parametrize(("class_name", "split_name", "expected"), [
    ("coat", "train", 12), ("coat", "validation", 4), ("coat", "test", 4),
    ("sandal", "train", 15), ("sandal", "validation", 5), ("sandal", "test", 5),
    ("trouser", "train", 18), ("trouser", "validation", 6), ("trouser", "test", 6),
])
def test_shuffle_split_stratifies_by_class(flat_dataset_dir, class_name, split_name, expected):
    dataset = load_dataset(flat_dataset_dir, "image_classification")
    dataset.shuffle_split(0.6, 0.2, 0.2, seed=0)

    assert class_split_counts(dataset)[(class_name, split_name)] == expected


@pytest.mark.parametrize(("fractions", "expected_text"), [
    ((0.5, 0.2, 0.2), "sum to 0.900"),
    ((0.6, 0.3, 0.2), "sum to 1.100"),
    ((0.8, -0.1, 0.3), "Invalid validation fraction -0.1"),
    ((0.0, 0.5, 0.5), "Invalid train fraction 0"),
])
def test_shuffle_split_bad_fractions_raise(flat_dataset_dir, fractions, expected_text):
    dataset = load_dataset(flat_dataset_dir, "image_classification")

    with pytest.raises(DatasetError) as excinfo:
        dataset.shuffle_split(*fractions, seed=0)

    assert expected_text in str(excinfo.value)


def test_hash_split_stable_for_id():
    # The split comes from sha256 of "0:trouser/fmnist_00016.png", which maps to the test split.
    # Python's hash() of a string would change from one process to the next.
    assignments = {hash_split("trouser/fmnist_00016.png", 0.6, 0.2, 0.2, seed=0) for _ in range(5)}

    assert assignments == {"test"}


def test_hash_split_seed_changes_assignment():
    assert hash_split("trouser/fmnist_00016.png", 0.6, 0.2, 0.2, seed=2) == "train"


@pytest.mark.parametrize(("split_name", "fraction"), [("train", 0.6), ("validation", 0.2), ("test", 0.2)])
def test_hash_split_follows_fractions(split_name, fraction):
    assignments = Counter(hash_split(f"images/{i:05d}.png", 0.6, 0.2, 0.2, seed=0) for i in range(3000))

    assert assignments[split_name] / 3000 == pytest.approx(fraction, abs=0.03)


def test_hash_split_bad_fractions_raise():
    with pytest.raises(DatasetError) as excinfo:
        hash_split("images/00001.png", 0.7, 0.2, 0.2, seed=0)

    assert "sum to 1.100" in str(excinfo.value)


# Bad input


def test_missing_dataset_folder_raises(tmp_path):
    missing = tmp_path / "no_such_dataset"

    with pytest.raises(DatasetError) as excinfo:
        load_dataset(missing, "image_classification")

    assert str(missing) in str(excinfo.value)


def test_folder_without_class_folders_raises(tmp_path):
    save_png(np.zeros((28, 28), dtype=np.uint8), tmp_path / "loose.png")

    with pytest.raises(DatasetError) as excinfo:
        load_dataset(tmp_path, "image_classification")

    assert str(tmp_path) in str(excinfo.value)


def test_empty_class_folder_raises(tmp_path, flat_dataset_dir):
    root = copy_dataset(flat_dataset_dir, tmp_path / "dataset")
    (root / "shirt").mkdir()

    with pytest.raises(DatasetError) as excinfo:
        load_dataset(root, "image_classification")

    assert str(root / "shirt") in str(excinfo.value)


def test_single_class_folder_raises(tmp_path, write_fashion_class_folders):
    root = write_fashion_class_folders(tmp_path / "dataset", {"coat": 20})

    with pytest.raises(DatasetError) as excinfo:
        load_dataset(root, "image_classification")

    message = str(excinfo.value)
    assert "1 class (coat)" in message
    assert "at least two" in message


@pytest.fixture
def dataset_with_bad_files(tmp_path, flat_dataset_dir) -> tuple[Path, Path, Path]:
    """A copy of the flat dataset with a corrupt PNG and a text file in the coat folder."""
    root = copy_dataset(flat_dataset_dir, tmp_path / "dataset")
    corrupt = root / "coat" / "corrupt.png"
    corrupt.write_bytes(b"these bytes are not a PNG image" * 4)
    notes = root / "coat" / "notes.txt"
    notes.write_text("Coats photographed in March.\n")
    return root, corrupt, notes


def test_bad_files_skipped_and_counted(dataset_with_bad_files):
    root, corrupt, notes = dataset_with_bad_files

    dataset = load_dataset(root, "image_classification", on_bad_file="skip")

    assert sorted(path for path, _ in dataset.skipped) == [corrupt, notes]
    assert dataset.class_counts() == FLAT_CLASS_COUNTS


def test_skipped_files_record_reason(dataset_with_bad_files):
    root, corrupt, notes = dataset_with_bad_files

    reasons = dict(load_dataset(root, "image_classification").skipped)

    assert reasons[corrupt].startswith("corrupt image")
    assert reasons[notes] == "not an image file (suffix '.txt')"


def test_corrupt_png_raises_in_error_mode(tmp_path, flat_dataset_dir):
    root = copy_dataset(flat_dataset_dir, tmp_path / "dataset")
    corrupt = root / "coat" / "corrupt.png"
    corrupt.write_bytes(b"these bytes are not a PNG image" * 4)

    with pytest.raises(DatasetError) as excinfo:
        load_dataset(root, "image_classification", on_bad_file="error")

    message = str(excinfo.value)
    assert str(corrupt) in message
    assert "corrupt image" in message


def test_truncated_png_raises_in_error_mode(tmp_path, flat_dataset_dir):
    root = copy_dataset(flat_dataset_dir, tmp_path / "dataset")
    truncated = root / "coat" / "truncated.png"
    whole = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    save_png(whole, truncated)
    truncated.write_bytes(truncated.read_bytes()[:2000])

    with pytest.raises(DatasetError) as excinfo:
        load_dataset(root, "image_classification", on_bad_file="error")

    assert str(truncated) in str(excinfo.value)


def test_text_file_raises_in_error_mode(tmp_path, flat_dataset_dir):
    root = copy_dataset(flat_dataset_dir, tmp_path / "dataset")
    notes = root / "sandal" / "notes.txt"
    notes.write_text("Sandals photographed in March.\n")

    with pytest.raises(DatasetError) as excinfo:
        load_dataset(root, "image_classification", on_bad_file="error")

    message = str(excinfo.value)
    assert str(notes) in message
    assert "not an image file" in message


def test_class_of_only_bad_files_raises(tmp_path, flat_dataset_dir):
    root = copy_dataset(flat_dataset_dir, tmp_path / "dataset")
    (root / "shirt").mkdir()
    (root / "shirt" / "notes.txt").write_text("No shirt photos yet.\n")

    with pytest.raises(DatasetError) as excinfo:
        load_dataset(root, "image_classification", on_bad_file="skip")

    assert str(root / "shirt") in str(excinfo.value)


def test_invalid_bad_file_policy_raises(flat_dataset_dir):
    with pytest.raises(DatasetError) as excinfo:
        load_dataset(flat_dataset_dir, "image_classification", on_bad_file="ignore")

    assert "'ignore'" in str(excinfo.value)


def test_load_dataset_file_instead_of_folder(tmp_path):
    path = tmp_path / "images.txt"
    path.write_text("not a folder")

    with pytest.raises(DatasetError, match="is a file, not a folder"):
        load_dataset(path, "image_classification")
