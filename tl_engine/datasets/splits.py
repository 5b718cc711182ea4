"""Train, validation and test membership of samples."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence

from tl_engine.errors import DatasetError

SPLIT_NAMES = ("train", "validation", "test")


def check_fractions(train: float, validation: float, test: float) -> None:
    """Raise DatasetError unless the three fractions are in [0, 1], sum to 1 and train is positive."""
    fractions = {"train": train, "validation": validation, "test": test}
    for name, value in fractions.items():
        if not 0.0 <= value <= 1.0:
            raise DatasetError(f"Invalid {name} fraction {value!r}: it must lie between 0 and 1.")
    if train <= 0:
        raise DatasetError("Invalid train fraction 0: training needs some samples.")
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise DatasetError(f"Split fractions {fractions} sum to {sum(fractions.values()):.3f}; they must sum to 1.")


def stratified_split(labels: Sequence[int], train: float, validation: float, test: float,
                     seed: int) -> dict[str, list[int]]:
    """Shuffle the indices of each class with `seed` and cut them by the fractions.

    Every class keeps its share in each split, so a rare class is not missing from the test split.
    """
    check_fractions(train, validation, test)
    by_class: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_class[label].append(index)
    rng = random.Random(seed)
    result: dict[str, list[int]] = {name: [] for name in SPLIT_NAMES}
    for label in sorted(by_class):
        indices = by_class[label]
        rng.shuffle(indices)
        n_validation = round(len(indices) * validation)
        n_test = round(len(indices) * test)
        result["validation"] += indices[:n_validation]
        result["test"] += indices[n_validation:n_validation + n_test]
        result["train"] += indices[n_validation + n_test:]
    for name in SPLIT_NAMES:
        result[name].sort()
    return result


def hash_split(sample_id: str, train: float, validation: float, test: float, seed: int) -> str:
    """Assign one sample to a split from a hash of its id, so it keeps that split when new samples arrive."""
    check_fractions(train, validation, test)
    digest = hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    if position < train:
        return "train"
    if position < train + validation:
        return "validation"
    return "test"
