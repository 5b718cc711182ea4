"""Daily evaluation: every current model of a task, FP32 and INT8, on one day's new samples only.

A model whose accuracy on the day falls below `quality.min_daily_accuracy`, or more than
`quality.max_daily_accuracy_drop` below its own test accuracy, is flagged for retraining.
"""

from __future__ import annotations

import logging

from tl_engine.benchmark.harness import BenchmarkSettings, run_variant
from tl_engine.pipeline.config import TaskSettings
from tl_engine.pipeline.data_steps import MANIFEST_FILE, read_csv
from tl_engine.pipeline.outcome import CODE_VERSIONS, StepOutcome, built, reuse_if_built
from tl_engine.pipeline.use_cases import use_case_of
from tl_engine.store import ArtifactStore, fingerprint, read_metadata

logger = logging.getLogger(__name__)

DAILY_COLUMNS = ["model", "fp32_accuracy", "int8_accuracy", "test_accuracy", "samples", "retrain", "reason"]


def _day_samples(task: TaskSettings, store: ArtifactStore, day: str) -> list:
    raw_dir = store.require_latest("raw_drop", f"{task.name}/{day}")
    return use_case_of(task).samples(task, read_csv(raw_dir / MANIFEST_FILE))


def _current_models(task: TaskSettings, store: ArtifactStore) -> dict[str, dict]:
    """Return the latest FP32 model, INT8 model and test accuracy of each configured model that was trained."""
    current = {}
    for entry in task.models:
        partition = f"{task.name}/{entry.framework}/{entry.model}"
        model_dir = store.latest("finetuned_model", partition)
        if model_dir is None:
            continue
        evaluation = store.latest("evaluation", partition)
        current[entry.partition_key] = {
            "model_dir": model_dir, "int8_dir": store.latest("quantized_model", partition),
            "test_accuracy": read_metadata(evaluation)["test_accuracy"] if evaluation else None,
        }
    return current


def _retrain_reason(task: TaskSettings, accuracy: float, test_accuracy: float | None) -> str:
    quality = task.quality
    if accuracy < quality.min_daily_accuracy:
        return f"accuracy {accuracy:.4f} is below min_daily_accuracy {quality.min_daily_accuracy}"
    if test_accuracy is not None and test_accuracy - accuracy > quality.max_daily_accuracy_drop:
        return (f"accuracy {accuracy:.4f} is {test_accuracy - accuracy:.4f} below the test accuracy "
                f"{test_accuracy:.4f} (max_daily_accuracy_drop {quality.max_daily_accuracy_drop})")
    return ""


def _evaluate_fp32(task: TaskSettings, model_dir, samples: list) -> tuple[float, int]:
    from tl_engine.model_factory import load_model

    classifier = load_model(model_dir)
    known = [s for s in samples if s.class_name in classifier.class_names]
    dataset = use_case_of(task).dataset(known, classifier.class_names,
                                        {"train": [], "validation": [], "test": list(range(len(known)))})
    dataset.preprocess(classifier.preprocessing, 64)
    return classifier.evaluate(dataset, "test")["accuracy"], len(samples) - len(known)


def build_daily_evaluation(task: TaskSettings, store: ArtifactStore, day: str) -> StepOutcome:
    """Evaluate every current model on one day's samples and flag the ones that fell behind."""
    samples = _day_samples(task, store, day)
    models = _current_models(task, store)
    inputs = {"code": CODE_VERSIONS["daily_evaluation"],
              "raw_drop": store.require_latest("raw_drop", f"{task.name}/{day}").name,
              "models": {key: m["model_dir"].name for key, m in models.items()},
              "int8": {key: m["int8_dir"].name for key, m in models.items() if m["int8_dir"]},
              "quality": task.quality.model_dump()}
    fp = fingerprint(inputs)
    partition = f"{task.name}/{day}"
    reused = reuse_if_built(store, "daily_evaluation", partition, fp)
    if reused:
        return reused

    rows = []
    for key, current in models.items():
        accuracy, unknown = _evaluate_fp32(task, current["model_dir"], samples)
        int8_accuracy = None
        if current["int8_dir"] is not None:
            class_names = read_metadata(current["int8_dir"])["class_names"]
            payload = use_case_of(task).payload
            labelled = [(payload(s), class_names.index(s.class_name)) for s in samples if s.class_name in class_names]
            int8_accuracy = run_variant(current["int8_dir"], task.int8_variant, BenchmarkSettings(batch_sizes=[]),
                                        labelled)["accuracy"]
        reason = _retrain_reason(task, accuracy, current["test_accuracy"])
        if unknown:
            reason = (reason + "; " if reason else "") + f"{unknown} samples have classes the model does not know"
        rows.append({"model": key, "fp32_accuracy": accuracy, "int8_accuracy": int8_accuracy,
                     "test_accuracy": current["test_accuracy"], "samples": len(samples),
                     "retrain": bool(reason), "reason": reason})
        logger.info("Daily evaluation %s on %s: %s", key, day, rows[-1])

    if not models:
        logger.warning("No trained model of task %s yet, so day %s is recorded without evaluation.", task.name, day)
    history = _history(task, store, day, rows)
    metadata = {"inputs": inputs, "task": task.name, "day": day, "rows": rows,
                "retrain": [row["model"] for row in rows if row["retrain"]], "history": history}
    with store.write("daily_evaluation", partition, fp, metadata) as (directory, _):
        if history:
            plot_history(history, directory / "accuracy_by_day.png", task.name)
    return built(store, "daily_evaluation", partition, fp)


def _history(task: TaskSettings, store: ArtifactStore, day: str, rows: list[dict]) -> list[dict]:
    """Rows of every earlier day's evaluation, then this day's, as {day, model, fp32_accuracy, int8_accuracy}."""
    history = []
    root = store.root / "daily_evaluation" / task.name
    earlier = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name < day) if root.is_dir() else []
    for other in earlier:
        path = store.latest("daily_evaluation", f"{task.name}/{other}")
        if path is not None:
            history += [{"day": other, **{k: r[k] for k in ("model", "fp32_accuracy", "int8_accuracy")}}
                        for r in read_metadata(path)["rows"]]
    history += [{"day": day, **{k: r[k] for k in ("model", "fp32_accuracy", "int8_accuracy")}} for r in rows]
    return history


def plot_history(history: list[dict], path, title: str):
    """Plot each model's FP32 and INT8 accuracy over the days as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for model in sorted({row["model"] for row in history}):
        rows = [row for row in history if row["model"] == model]
        ax.plot([r["day"] for r in rows], [r["fp32_accuracy"] for r in rows], marker="o", label=f"{model} FP32")
        int8 = [r for r in rows if r["int8_accuracy"] is not None]
        if int8:
            ax.plot([r["day"] for r in int8], [r["int8_accuracy"] for r in int8], marker="x", linestyle="--",
                    label=f"{model} INT8")
    ax.set_ylabel("accuracy on the day's samples")
    ax.set_title(f"Daily evaluation, task {title}")
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
