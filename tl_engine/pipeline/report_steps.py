"""Pipeline steps that report: the FP32 against INT8 benchmark per model, and the task's leaderboard."""

from __future__ import annotations

import logging

from tl_engine.benchmark.harness import BenchmarkSettings, benchmark_models
from tl_engine.pipeline.config import TaskSettings
from tl_engine.pipeline.model_steps import _check_partition, _partition
from tl_engine.pipeline import fingerprints
from tl_engine.pipeline.outcome import StepOutcome, built, reuse_if_built
from tl_engine.pipeline.use_cases import use_case_of
from tl_engine.store import ArtifactStore, fingerprint, read_metadata, write_json_atomic

logger = logging.getLogger(__name__)

LEADERBOARD_COLUMNS = [
    "partition", "fp32_accuracy", "int8_accuracy", "fp32_compiled_latency_ms_b1", "int8_latency_ms_b1",
    "fp32_eager_throughput_b32", "fp32_compiled_throughput_b32", "int8_throughput_b32",
    "int8_speedup_b32", "fp32_size_mb", "int8_size_mb",
]


def _timing(report: dict, variant: str, batch_size: int, key: str):
    for row in report["variants"].get(variant, {}).get("timings", []):
        if row["batch_size"] == batch_size:
            return row[key]
    return None


def build_benchmark_report(task: TaskSettings, store: ArtifactStore, framework: str, model: str) -> StepOutcome:
    """Time FP32 eager, FP32 compiled and INT8, each in a fresh process, and add the accuracies."""
    _check_partition(task, framework, model)
    partition = _partition(task, framework, model)
    fp32_dir = store.require_latest("finetuned_model", partition)
    int8_dir = store.require_latest("quantized_model", partition)
    evaluation = read_metadata(store.require_latest("evaluation", partition))
    settings = task.benchmark
    inputs = fingerprints.benchmark_report_inputs(task, fp32_dir.name, int8_dir.name)
    fp = fingerprint(inputs)
    reused = reuse_if_built(store, "benchmark_report", partition, fp)
    if reused:
        return reused

    harness_settings = BenchmarkSettings(batch_sizes=list(settings.batch_sizes), warmup=settings.warmup,
                                         iterations=settings.iterations)
    if settings.threads:
        harness_settings.threads = settings.threads
    report = benchmark_models(fp32_dir, int8_dir, harness_settings, variants=settings.variants)

    int8 = read_metadata(int8_dir)
    report["accuracy"] = {"fp32": evaluation["test_accuracy"], "int8": int8["int8_test_accuracy"],
                          "test_samples": evaluation["test_samples"]}
    report["int8_method"] = use_case_of(task).int8_method
    int8_variant = task.int8_variant

    row = {
        "partition": f"{framework}|{model}",
        "fp32_accuracy": report["accuracy"]["fp32"], "int8_accuracy": report["accuracy"]["int8"],
        "fp32_compiled_latency_ms_b1": _timing(report, "fp32_compiled", 1, "median_latency_ms"),
        "int8_latency_ms_b1": _timing(report, int8_variant, 1, "median_latency_ms"),
        "fp32_eager_throughput_b32": _timing(report, "fp32_eager", 32, "throughput_per_s"),
        "fp32_compiled_throughput_b32": _timing(report, "fp32_compiled", 32, "throughput_per_s"),
        "int8_throughput_b32": _timing(report, int8_variant, 32, "throughput_per_s"),
        "int8_speedup_b32": report.get("int8_speedup_vs_fp32_compiled", {}).get("32"),
        "fp32_size_mb": round(report["size_bytes"]["fp32"] / 1e6, 2),
        "int8_size_mb": round(report["size_bytes"]["int8"] / 1e6, 2),
        "variants": ", ".join(settings.variants),
    }
    with store.write("benchmark_report", partition, fp, {}) as (directory, meta):
        meta.update(inputs=inputs, fp32_fingerprint=fp32_dir.name, int8_fingerprint=int8_dir.name, row=row, report=report)
        write_json_atomic(directory / "report.json", report)
    return built(store, "benchmark_report", partition, fp)


def build_leaderboard(task: TaskSettings, store: ArtifactStore) -> StepOutcome:
    """Collect every configured model's latest benchmark row into one table."""
    reports = {}
    for entry in task.models:
        path = store.latest("benchmark_report", _partition(task, entry.framework, entry.model))
        if path is None:
            logger.warning("No benchmark report for %s yet; it is left out of the leaderboard.", entry.partition_key)
            continue
        reports[entry.partition_key] = path
    inputs = fingerprints.leaderboard_inputs({key: path.name for key, path in reports.items()})
    fp = fingerprint(inputs)
    reused = reuse_if_built(store, "leaderboard", task.name, fp)
    if reused:
        return reused
    rows = [read_metadata(path)["row"] for path in reports.values()]
    with store.write("leaderboard", task.name, fp, {"inputs": inputs, "task": task.name, "rows": rows}) as (directory, _):
        (directory / "leaderboard.md").write_text(markdown_table(rows, LEADERBOARD_COLUMNS))
    return built(store, "leaderboard", task.name, fp)


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """Format rows as a Markdown table with the given columns; missing values stay empty."""
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join("" if row.get(c) is None else str(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join([header, rule, *body]) + "\n"
