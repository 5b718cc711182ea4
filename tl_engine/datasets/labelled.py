"""The base of every labelled dataset: class ids, train, validation and test subsets, and batch loading."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tl_engine.datasets.splits import SPLIT_NAMES, stratified_split
from tl_engine.errors import DatasetError


def require_two_classes(class_names: Sequence[str], where: Path | str) -> None:
    """Raise DatasetError when a dataset has fewer than two classes, which no classifier can learn."""
    if len(class_names) < 2:
        found = class_names[0] if class_names else "none"
        raise DatasetError(f"{where} has {len(class_names)} class ({found}); classification needs at least two "
                           "classes.")


class LabelledDataset:
    """Samples with a class name each, the class list, and train, validation and test subsets.

    Subclasses set how a sample becomes a model input: `preprocess` checks the model's
    preprocessing dictionary, `dataset` builds the framework dataset, and `_collate` batches it.
    """

    use_case = ""
    unit = "samples"

    def __init__(self, samples: Sequence, class_names: Sequence[str] | None = None, framework: str = "pytorch",
                 splits: dict[str, list[int]] | None = None, skipped: Sequence[tuple] = (),
                 source: Path | str = "The dataset"):
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

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(self.splits[name])}" for name in SPLIT_NAMES)
        return f"{type(self).__name__}({len(self)} {self.unit}, {len(self.class_names)} classes, {sizes})"

    def class_counts(self) -> dict[str, int]:
        """Count the samples of each class, in class order."""
        counts = Counter(sample.class_name for sample in self.samples)
        return {name: counts.get(name, 0) for name in self.class_names}

    def shuffle_split(self, train_pct: float = 0.75, val_pct: float = 0.1, test_pct: float = 0.15,
                      seed: int = 0) -> None:
        """Split the samples into train, validation and test, stratified by class and seeded."""
        self.splits = stratified_split(self.labels, train_pct, val_pct, test_pct, seed)

    def use_all_for(self, subset: str) -> None:
        """Put every sample in one subset, to evaluate on or calibrate with a whole dataset."""
        if subset not in SPLIT_NAMES:
            raise DatasetError(f"Unknown subset {subset!r}. Valid subsets: {', '.join(SPLIT_NAMES)}.")
        self.splits = {name: list(range(len(self.samples))) if name == subset else [] for name in SPLIT_NAMES}

    def _set_preprocessing(self, preprocessing: dict, batch_size: int, required: Sequence[str]) -> None:
        missing = [key for key in required if key not in preprocessing]
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

    def subset_indices(self, subset: str) -> list[int]:
        """Return the sample indices of one subset: train, validation or test."""
        if subset not in SPLIT_NAMES:
            raise DatasetError(f"Unknown subset {subset!r}. Valid subsets: {', '.join(SPLIT_NAMES)}.")
        return self.splits[subset]

    def _collate(self):
        """Return the DataLoader's collate function, or None for PyTorch's default."""
        return None

    def loader(self, subset: str, shuffle: bool = False, seed: int = 0):
        """Return a `torch.utils.data.DataLoader` over one subset."""
        import torch
        from torch.utils.data import DataLoader, Subset

        indices = self.subset_indices(subset)
        if not indices:
            raise DatasetError(f"The {subset} subset is empty. Call shuffle_split() or add {subset} samples.")
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(Subset(self.dataset, indices), batch_size=self.batch_size, shuffle=shuffle,
                          generator=generator, collate_fn=self._collate())

    def get_batch(self, subset: str = "train"):
        """Return one batch `(inputs, labels)` of the subset, in its stored order."""
        return next(iter(self.loader(subset)))
