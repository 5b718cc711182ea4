"""Pipeline steps for one framework and model: features, training, evaluation, INT8, benchmark.

Each step derives a fingerprint from its code version, its settings and the fingerprints of its
inputs. A fingerprint that is already in the store is reused, so a re-run rebuilds only what changed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tl_engine.catalog import find_model
from tl_engine.datasets.splits import SPLIT_NAMES
from tl_engine.feature_files import FeatureFile
from tl_engine.metrics import plot_confusion_matrix, plot_training_curve
from tl_engine.pipeline import fingerprints
from tl_engine.pipeline.config import TaskSettings
from tl_engine.pipeline.data_steps import load_task_dataset
from tl_engine.pipeline.outcome import StepOutcome, built, reuse_if_built
from tl_engine.pipeline.use_cases import use_case_of
from tl_engine.store import ArtifactStore, fingerprint, read_metadata

logger = logging.getLogger(__name__)

FEATURES_FILE = "features_{split}.npy"
LABELS_FILE = "labels_{split}.npy"


def _partition(task: TaskSettings, framework: str, model: str) -> str:
    return f"{task.name}/{framework}/{model}"


def _check_partition(task: TaskSettings, framework: str, model: str):
    """Raise a clear error for a framework and model pair the catalog or the task does not have."""
    task.model_settings(framework, model)
    return find_model(model, framework, task.use_case)


def _prepared_dataset(task: TaskSettings, store: ArtifactStore, classifier, batch_size: int):
    dataset = load_task_dataset(task, store, classifier.framework)
    dataset.preprocess(classifier.preprocessing, batch_size)
    return dataset


def build_features(task: TaskSettings, store: ArtifactStore, framework: str, model: str,
                   progress: bool = False) -> StepOutcome:
    """Run the frozen pretrained backbone once over every split and cache its outputs."""
    from tl_engine.model_factory import get_model

    entry = _check_partition(task, framework, model)
    training = task.training_for(framework, model)
    splits_fp = store.require_latest("splits", task.name).name
    partition = _partition(task, framework, model)
    inputs = fingerprints.features_inputs(task, framework, model, splits_fp)
    fp = fingerprint(inputs)
    reused = reuse_if_built(store, "features", partition, fp)
    if reused:
        return reused
    metadata = {"inputs": inputs, "model_name": model, "framework": framework, "hub_id": entry.hub_id,
                "image_size": training.image_size, "splits_fingerprint": splits_fp}
    if not use_case_of(task).uses_feature_cache(training):
        metadata["note"] = "the whole model is fine-tuned on the samples, so this cache is left empty"
        with store.write("features", partition, fp, metadata):
            pass
        return built(store, "features", partition, fp)
    classifier = get_model(model, framework, image_size=training.image_size)
    dataset = _prepared_dataset(task, store, classifier, training.batch_size)
    with store.write("features", partition, fp, metadata) as (directory, meta):
        for split in SPLIT_NAMES:
            if dataset.splits[split]:
                features, labels = classifier.extract_features(dataset, split, progress,
                                                               to_file=directory / FEATURES_FILE.format(split=split))
                features.close()
                np.save(directory / LABELS_FILE.format(split=split), labels, allow_pickle=False)
                meta[f"{split}_samples"] = int(len(labels))
        meta["feature_dim"] = int(classifier.feature_dim)
    return built(store, "features", partition, fp)


def _load_features(directory: Path) -> dict[str, tuple[FeatureFile, np.ndarray]]:
    """Open the cached features of each split for reading batch by batch; the labels are loaded whole."""
    cached = {}
    for split in SPLIT_NAMES:
        path = directory / FEATURES_FILE.format(split=split)
        if path.is_file():
            cached[split] = (FeatureFile(path), np.load(directory / LABELS_FILE.format(split=split), allow_pickle=False))
    return cached


def build_finetuned_model(task: TaskSettings, store: ArtifactStore, framework: str, model: str,
                          progress: bool = False) -> StepOutcome:
    """Train the model's new head on cached features (or fine-tune every layer) and export it."""
    from tl_engine.model_factory import get_model

    _check_partition(task, framework, model)
    training = task.training_for(framework, model)
    partition = _partition(task, framework, model)
    features_dir = store.require_latest("features", partition)
    splits_fp = store.require_latest("splits", task.name).name
    inputs = fingerprints.finetuned_model_inputs(task, framework, model, features_dir.name, splits_fp)
    fp = fingerprint(inputs)
    reused = reuse_if_built(store, "finetuned_model", partition, fp)
    if reused:
        return reused
    use_case = use_case_of(task)
    classifier = get_model(model, framework, **use_case.model_options(training))
    dataset = _prepared_dataset(task, store, classifier, training.batch_size)
    features = _load_features(features_dir) if use_case.uses_feature_cache(training) else None
    history = classifier.train(dataset, epochs=training.epochs, learning_rate=training.learning_rate,
                               seed=training.seed, fine_tune=training.fine_tune, features=features,
                               progress=progress)
    for cached_features, _ in (features or {}).values():
        cached_features.close()
    best = max(history, key=lambda row: row.get("validation_accuracy", 0.0))
    lineage = {"inputs": inputs, "task": task.name, "features_fingerprint": features_dir.name, "splits_fingerprint": splits_fp,
               "validation_accuracy": best.get("validation_accuracy")}
    with store.write("finetuned_model", partition, fp, {}) as (directory, meta):
        meta.update(classifier.save_to(directory, lineage))
        plot_training_curve(history, directory / "training_curve.png", f"{model} ({framework})")
    return built(store, "finetuned_model", partition, fp)


def build_evaluation(task: TaskSettings, store: ArtifactStore, framework: str, model: str,
                     progress: bool = False) -> StepOutcome:
    """Evaluate the exported model on the held-out test split, from the images."""
    from tl_engine.model_factory import load_model

    _check_partition(task, framework, model)
    partition = _partition(task, framework, model)
    model_dir = store.require_latest("finetuned_model", partition)
    splits_fp = store.require_latest("splits", task.name).name
    inputs = fingerprints.evaluation_inputs(model_dir.name, splits_fp)
    fp = fingerprint(inputs)
    reused = reuse_if_built(store, "evaluation", partition, fp)
    if reused:
        return reused
    classifier = load_model(model_dir)
    dataset = _prepared_dataset(task, store, classifier, 64)
    report = classifier.evaluate(dataset, "test", progress)
    with store.write("evaluation", partition, fp, {}) as (directory, meta):
        meta.update(inputs=inputs, model_fingerprint=model_dir.name, test_accuracy=report["accuracy"],
                    test_samples=report["samples"], report=report)
        plot_confusion_matrix(report, directory / "confusion_matrix.png", f"{model} ({framework}), test split")
    return built(store, "evaluation", partition, fp)


def held_out_samples(task: TaskSettings, store: ArtifactStore, dataset=None) -> list[tuple[str, int]]:
    """Return the test split as `(image path or text, label)` pairs for the benchmark worker.

    `dataset` is the task's dataset if the caller has already loaded it.
    """
    dataset = dataset or load_task_dataset(task, store)
    use_case = use_case_of(task)
    return [(use_case.payload(dataset.samples[i]), dataset.labels[i]) for i in dataset.splits["test"]]


def build_quantized_model(task: TaskSettings, store: ArtifactStore, framework: str, model: str,
                          progress: bool = False) -> StepOutcome:
    """Quantize the fine-tuned model to INT8 and measure its test accuracy in a fresh process."""
    from tl_engine.benchmark.harness import BenchmarkSettings, run_variant
    from tl_engine.model_factory import load_model

    _check_partition(task, framework, model)
    partition = _partition(task, framework, model)
    model_dir = store.require_latest("finetuned_model", partition)
    inputs = fingerprints.quantized_model_inputs(task, framework, model_dir.name)
    fp = fingerprint(inputs)
    reused = reuse_if_built(store, "quantized_model", partition, fp)
    if reused:
        return reused
    classifier = load_model(model_dir)
    dataset = _prepared_dataset(task, store, classifier, 32)
    fp32_accuracy = read_metadata(store.require_latest("evaluation", partition)).get("test_accuracy")
    threads = task.benchmark.threads or BenchmarkSettings().threads
    with store.write("quantized_model", partition, fp, {}) as (directory, meta):
        use_case_of(task).quantize(classifier, dataset, directory, task, progress,
                                   {"fp32_fingerprint": model_dir.name})
        check = run_variant(directory, task.int8_variant, BenchmarkSettings(batch_sizes=[], threads=threads),
                            held_out_samples(task, store))
        drop = round(fp32_accuracy - check["accuracy"], 4) if fp32_accuracy is not None else None
        meta.update(read_metadata(directory), inputs=inputs, int8_test_accuracy=check["accuracy"],
                    fp32_test_accuracy=fp32_accuracy, accuracy_drop=drop)
    return built(store, "quantized_model", partition, fp)
