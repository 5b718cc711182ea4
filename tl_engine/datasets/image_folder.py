"""Image classification datasets built from folders of images, one sub-folder per class."""

from __future__ import annotations

import logging
from pathlib import Path

from tl_engine.datasets.images import Sample, load_rgb, scan_class_folders
from tl_engine.datasets.labelled import LabelledDataset
from tl_engine.datasets.splits import SPLIT_NAMES
from tl_engine.errors import DatasetError

logger = logging.getLogger(__name__)

SPLIT_FOLDER_NAMES = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}


class ImageClassificationDataset(LabelledDataset):
    """Labelled images with train, validation and test subsets, independent of the framework.

    The framework objects (a torch `Dataset` and `DataLoader`) are built by `preprocess` from the
    model's preprocessing, so the same dataset feeds any model.

    Example:
        >>> ds = ImageClassificationDataset.from_folder("data/flowers")
        >>> ds.shuffle_split(train_pct=0.7, val_pct=0.15, test_pct=0.15, seed=0)
        >>> ds.preprocess(model.preprocessing, batch_size=32)
        >>> images, labels = ds.get_batch("train")
    """

    use_case = "image_classification"
    unit = "images"

    @classmethod
    def from_folder(cls, dataset_dir: str | Path, framework: str = "pytorch",
                    on_bad_file: str = "skip") -> "ImageClassificationDataset":
        """Load `dataset_dir/<class>/*` or `dataset_dir/{train,validation,test}/<class>/*`."""
        root = Path(dataset_dir)
        if not root.exists():
            raise DatasetError(f"Dataset folder not found: {root}. Pass a folder with one sub-folder per class.")
        if not root.is_dir():
            raise DatasetError(f"{root} is a file, not a folder. Pass a folder with one sub-folder per class.")
        split_dirs = {SPLIT_FOLDER_NAMES[p.name]: p for p in root.iterdir()
                      if p.is_dir() and p.name in SPLIT_FOLDER_NAMES}
        if "train" not in split_dirs:
            scan = scan_class_folders(root, on_bad_file)
            return cls(scan.samples, framework=framework, skipped=scan.skipped, source=root)
        samples: list[Sample] = []
        skipped: list[tuple[Path, str]] = []
        owner: list[str] = []
        for split_name in SPLIT_NAMES:
            if split_name in split_dirs:
                scan = scan_class_folders(split_dirs[split_name], on_bad_file, id_prefix=f"{split_name}/")
                samples += scan.samples
                skipped += scan.skipped
                owner += [split_name] * len(scan.samples)
        splits = {name: [i for i, o in enumerate(owner) if o == name] for name in SPLIT_NAMES}
        logger.info("Loaded %s with predefined splits: %s", root, {k: len(v) for k, v in splits.items()})
        return cls(samples, framework=framework, splits=splits, skipped=skipped, source=root)

    def preprocess(self, preprocessing: dict, batch_size: int = 32) -> None:
        """Set how images become model inputs, from a model's `preprocessing` dictionary.

        The dictionary is the same contract for every dataset kind; image datasets read
        `input_size`, `mean` and `std`.
        """
        self._set_preprocessing(preprocessing, batch_size, ("input_size", "mean", "std"))

    @property
    def dataset(self):
        """The framework dataset over all samples (a `torch.utils.data.Dataset` for PyTorch)."""
        if self._torch_dataset is None:
            from tl_engine.datasets.torch_images import TorchImageDataset

            paths = [s.path for s in self.samples]
            self._torch_dataset = TorchImageDataset(paths, self.labels, self._require_preprocessing())
        return self._torch_dataset

    def tf_dataset(self, subset: str, shuffle: bool = False, seed: int = 0):
        """Return a `tf.data.Dataset` of `(NHWC images, labels)` batches of one subset, for TensorFlow models."""
        from tl_engine.datasets.tf_images import image_batches

        return image_batches(self, subset, shuffle, seed)

    def load_image(self, index: int):
        """Return sample `index` as an RGB PIL image."""
        return load_rgb(self.samples[index].path)
