"""Image classification datasets built from folders of images, one sub-folder per class."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tl_engine.datasets.images import Sample, load_rgb, require_two_classes, scan_class_folders
from tl_engine.datasets.splits import SPLIT_NAMES, stratified_split
from tl_engine.errors import DatasetError

logger = logging.getLogger(__name__)

SPLIT_FOLDER_NAMES = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}


class ImageClassificationDataset:
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

    def __init__(self, samples: Sequence[Sample], class_names: Sequence[str] | None = None,
                 framework: str = "pytorch", splits: dict[str, list[int]] | None = None,
                 skipped: Sequence[tuple[Path, str]] = (), source: Path | str = "The dataset"):
        self.samples = list(samples)
        self.class_names = list(class_names) if class_names else sorted({s.class_name for s in self.samples})
        require_two_classes(self.class_names, source)
        index = {name: i for i, name in enumerate(self.class_names)}
        unknown = sorted({s.class_name for s in self.samples} - index.keys())
        if unknown:
            raise DatasetError(f"Samples have classes {unknown} that are not in class_names {self.class_names}.")
        self.labels = [index[s.class_name] for s in self.samples]
        self.framework = framework
        self.skipped = list(skipped)
        self.splits = splits or {"train": list(range(len(self.samples))), "validation": [], "test": []}
        self.preprocessing: dict | None = None
        self.batch_size = 32
        self._torch_dataset = None

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

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(self.splits[name])}" for name in SPLIT_NAMES)
        return f"ImageClassificationDataset({len(self)} images, {len(self.class_names)} classes, {sizes})"

    def class_counts(self) -> dict[str, int]:
        counts = Counter(self.samples[i].class_name for i in range(len(self.samples)))
        return {name: counts.get(name, 0) for name in self.class_names}

    def shuffle_split(self, train_pct: float = 0.75, val_pct: float = 0.1, test_pct: float = 0.15,
                      seed: int = 0) -> None:
        """Split the samples into train, validation and test, stratified by class and seeded."""
        self.splits = stratified_split(self.labels, train_pct, val_pct, test_pct, seed)

    def use_all_for(self, subset: str) -> None:
        """Put every sample in one subset, to evaluate on or calibrate with a whole folder."""
        if subset not in SPLIT_NAMES:
            raise DatasetError(f"Unknown subset {subset!r}. Valid subsets: {', '.join(SPLIT_NAMES)}.")
        self.splits = {name: list(range(len(self.samples))) if name == subset else [] for name in SPLIT_NAMES}

    def preprocess(self, preprocessing: dict, batch_size: int = 32) -> None:
        """Set how images become model inputs, from a model's `preprocessing` dictionary.

        The dictionary is the same contract for every dataset kind; image datasets read
        `input_size`, `mean` and `std`.
        """
        missing = [key for key in ("input_size", "mean", "std") if key not in preprocessing]
        if missing:
            raise DatasetError(f"Preprocessing {preprocessing} lacks {missing}; pass the model's `preprocessing`.")
        if batch_size < 1:
            raise DatasetError(f"Invalid batch_size {batch_size}: it must be at least 1.")
        self.preprocessing = dict(preprocessing)
        self.batch_size = batch_size
        self._torch_dataset = None

    def _require_preprocessing(self) -> dict:
        if self.preprocessing is None:
            raise DatasetError("The dataset is not preprocessed yet. Call dataset.preprocess(model.preprocessing).")
        return self.preprocessing

    @property
    def dataset(self):
        """The framework dataset over all samples (a `torch.utils.data.Dataset` for PyTorch)."""
        if self._torch_dataset is None:
            from tl_engine.datasets.torch_images import TorchImageDataset

            paths = [s.path for s in self.samples]
            self._torch_dataset = TorchImageDataset(paths, self.labels, self._require_preprocessing())
        return self._torch_dataset

    def subset_indices(self, subset: str) -> list[int]:
        if subset not in SPLIT_NAMES:
            raise DatasetError(f"Unknown subset {subset!r}. Valid subsets: {', '.join(SPLIT_NAMES)}.")
        return self.splits[subset]

    def loader(self, subset: str, shuffle: bool = False, seed: int = 0):
        """Return a `torch.utils.data.DataLoader` over one subset."""
        import torch
        from torch.utils.data import DataLoader, Subset

        indices = self.subset_indices(subset)
        if not indices:
            raise DatasetError(f"The {subset} subset is empty. Call shuffle_split() or add a {subset} folder.")
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(Subset(self.dataset, indices), batch_size=self.batch_size, shuffle=shuffle,
                          generator=generator)

    def get_batch(self, subset: str = "train"):
        """Return one batch `(inputs, labels)` of the subset, in its stored order."""
        return next(iter(self.loader(subset)))

    def load_image(self, index: int):
        return load_rgb(self.samples[index].path)
