"""Pipeline steps for data: a day's landed files, the dataset of all days, and its stable splits."""

from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path

from tl_engine.datasets.labelled import require_two_classes
from tl_engine.datasets.splits import SPLIT_NAMES, hash_split
from tl_engine.errors import DatasetError
from tl_engine.pipeline import fingerprints
from tl_engine.pipeline.config import TaskSettings
from tl_engine.pipeline.outcome import StepOutcome, built, reuse_if_built
from tl_engine.pipeline.use_cases import split_indices, use_case_of
from tl_engine.store import ArtifactStore, fingerprint

logger = logging.getLogger(__name__)

READY_MARKER = "_READY"
MANIFEST_FILE = "manifest.csv"
SPLITS_FILE = "splits.csv"


def _write_csv(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _require_landing_dir(task: TaskSettings) -> None:
    if not task.landing_dir.is_dir():
        raise DatasetError(f"Landing folder not found: {task.landing_dir} (task {task.name!r}). "
                           "Create it, or fix landing_dir in the pipeline settings.")


def day_folder(task: TaskSettings, day: str) -> Path:
    """Return the landing folder of one day, checking that it exists and is complete."""
    _require_landing_dir(task)
    folder = task.landing_dir / day
    if not folder.is_dir():
        raise DatasetError(f"No landing folder for day {day}: {folder} does not exist.")
    if not (folder / READY_MARKER).is_file():
        raise DatasetError(f"Day folder {folder} is not complete: it has no {READY_MARKER} marker. "
                           f"Create {READY_MARKER} once every file of the day is copied.")
    return folder


def landed_days(task: TaskSettings) -> list[str]:
    """List the complete day folders (those with the ready marker) in the landing folder, oldest first."""
    return pending_days(task)[0]


def day_signature(folder: Path) -> str:
    """Hash the names, sizes and modification times of a day's files: cheap, and new when any file changes."""
    entries = sorted((p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                     for p in folder.rglob("*") if p.is_file())
    return fingerprint(entries)


def pending_days(task: TaskSettings) -> tuple[list[str], list[str]]:
    """Return the day folders that are complete and those still being copied (no ready marker yet)."""
    _require_landing_dir(task)
    complete, incomplete = [], []
    for folder in sorted(p for p in task.landing_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        (complete if (folder / READY_MARKER).is_file() else incomplete).append(folder.name)
    return complete, incomplete


def build_raw_drop(task: TaskSettings, store: ArtifactStore, day: str) -> StepOutcome:
    """Validate one day's files and record them with their content hashes."""
    folder = day_folder(task, day)
    rows, skipped = fingerprints.scan_day(task, folder, day)
    partition = f"{task.name}/{day}"
    inputs = fingerprints.raw_drop_inputs(rows)
    fp = fingerprint(inputs)
    reused = reuse_if_built(store, "raw_drop", partition, fp)
    if reused:
        return reused
    counts = Counter(row[1] for row in rows)
    metadata = {"inputs": inputs, "task": task.name, "day": day, "folder": str(folder), "samples": len(rows),
                "class_counts": dict(sorted(counts.items())), "skipped_files": len(skipped),
                "skipped_examples": [f"{p}: {why}" for p, why in skipped[:5]]}
    with store.write("raw_drop", partition, fp, metadata) as (directory, _):
        _write_csv(directory / MANIFEST_FILE, use_case_of(task).manifest_columns, rows)
    return built(store, "raw_drop", partition, fp)


def build_dataset(task: TaskSettings, store: ArtifactStore) -> StepOutcome:
    """Combine every recorded day into one dataset manifest; its fingerprint is its data version."""
    days = landed_days(task)
    drops = {}
    for day in days:
        path = store.latest("raw_drop", f"{task.name}/{day}")
        if path is None:
            logger.warning("Day %s of task %s has landed but raw_drop was not materialized; it is left out.",
                           day, task.name)
            continue
        drops[day] = path
    if not drops:
        raise DatasetError(f"No materialized raw_drop for task {task.name!r} under {task.landing_dir}. "
                           "Materialize raw_drop for the landed days first.")
    columns = use_case_of(task).manifest_columns
    rows = []
    for day, path in drops.items():
        rows += [tuple(r[column] for column in columns) for r in read_csv(path / MANIFEST_FILE)]

    class_names = sorted({row[1] for row in rows})
    require_two_classes(class_names, f"Task {task.name!r}")
    inputs = fingerprints.dataset_inputs({day: path.name for day, path in drops.items()})
    fp = fingerprint(inputs)
    partition = task.name
    reused = reuse_if_built(store, "dataset", partition, fp)
    if reused:
        return reused
    counts = Counter(row[1] for row in rows)
    metadata = {"inputs": inputs, "task": task.name, "days": list(drops), "samples": len(rows), "class_names": class_names,
                "class_counts": {name: counts[name] for name in class_names}}
    with store.write("dataset", partition, fp, metadata) as (directory, _):
        _write_csv(directory / MANIFEST_FILE, columns, rows)
    return built(store, "dataset", partition, fp)


def build_splits(task: TaskSettings, store: ArtifactStore) -> StepOutcome:
    """Assign each sample to train, validation or test by a hash of its id, so assignments never move."""
    dataset_dir = store.require_latest("dataset", task.name)
    dataset_fp = dataset_dir.name
    split = task.split
    inputs = fingerprints.splits_inputs(task, dataset_fp)
    fp = fingerprint(inputs)
    reused = reuse_if_built(store, "splits", task.name, fp)
    if reused:
        return reused
    rows = [(r["sample_id"], hash_split(r["sample_id"], split.train, split.validation, split.test, split.seed))
            for r in read_csv(dataset_dir / MANIFEST_FILE)]
    sizes = Counter(name for _, name in rows)
    for name in SPLIT_NAMES:
        if getattr(split, name) > 0 and sizes[name] == 0:
            raise DatasetError(f"The {name} split of task {task.name!r} is empty ({len(rows)} samples). "
                               "Add data or change the split fractions.")
    metadata = {"inputs": inputs, "task": task.name, "dataset_fingerprint": dataset_fp, "settings": split.model_dump(),
                "sizes": {name: sizes[name] for name in SPLIT_NAMES}}
    with store.write("splits", task.name, fp, metadata) as (directory, _):
        _write_csv(directory / SPLITS_FILE, ["sample_id", "split"], rows)
    return built(store, "splits", task.name, fp)


def load_task_dataset(task: TaskSettings, store: ArtifactStore, framework: str = "pytorch"):
    """Build the dataset object of the latest dataset and splits artifacts, for training and evaluation."""
    dataset_dir = store.require_latest("dataset", task.name)
    splits_dir = store.require_latest("splits", task.name)
    manifest = read_csv(dataset_dir / MANIFEST_FILE)
    membership = {r["sample_id"]: r["split"] for r in read_csv(splits_dir / SPLITS_FILE)}
    use_case = use_case_of(task)
    samples = use_case.samples(task, manifest)
    class_names = sorted({s.class_name for s in samples})
    return use_case.dataset(samples, class_names, split_indices(samples, membership), framework)
