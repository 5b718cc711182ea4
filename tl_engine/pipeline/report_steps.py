"""Pipeline steps that report: the FP32 against INT8 benchmark per model, and the task's leaderboard."""

from __future__ import annotations

import logging

from tl_engine.benchmark.harness import BenchmarkSettings, benchmark_models
from tl_engine.benchmark import ipex_available
from tl_engine.pipeline.config import TaskSettings
from tl_engine.pipeline.data_steps import load_task_dataset
from tl_engine.pipeline.model_steps import _check_partition, _partition, held_out_samples
from tl_engine.pipeline import fingerprints
from tl_engine.pipeline.outcome import StepOutcome, built, reuse_if_built
from tl_engine.pipeline.use_cases import use_case_of
from tl_engine.store import ArtifactStore, fingerprint, read_metadata, write_json_atomic

logger = logging.getLogger(__name__)

LEADERBOARD_COLUMNS = [
    "partition", "fp32_accuracy", "int8_accuracy", "fp32_compiled_latency_ms_b1", "int8_latency_ms_b1",
    "fp32_eager_throughput_b32", "fp32_compiled_throughput_b32", "bf16_throughput_b32", "int8_throughput_b32",
    "int8_speedup_b32", "deployed_variant", "deployed_throughput", "fp32_size_mb", "int8_size_mb",
]


def _timing(report: dict, variant: str, batch_size: int, key: str):
    for row in report["variants"].get(variant, {}).get("timings", []):
        if row["batch_size"] == batch_size:
            return row[key]
    return None


def choose_deployed_variant(report: dict, max_accuracy_drop: float) -> dict:
    """Pick the variant to deploy: the fastest at the largest measured batch size among the variants
    whose test accuracy is known and at most `max_accuracy_drop` below FP32.

    FP32 variants have the FP32 accuracy, INT8 variants the accuracy of the quantization step, and
    bfloat16 variants the accuracy measured with their timings (unmeasured, they are not chosen).
    """
    fp32_accuracy = report["accuracy"]["fp32"]
    candidates = {}
    for name, result in report["variants"].items():
        if not result["timings"]:
            continue
        accuracy = result.get("accuracy")
        if accuracy is None:
            accuracy = {"fp32": fp32_accuracy, "int8": report["accuracy"]["int8"]}.get(name.split("_")[0])
        if accuracy is not None and fp32_accuracy - accuracy <= max_accuracy_drop + 1e-9:
            largest = max(result["timings"], key=lambda row: row["batch_size"])
            candidates[name] = (largest["throughput_per_s"], largest["batch_size"], accuracy)
    if not candidates:
        return {"variant": None, "reason": "no variant has a known accuracy"}
    name = max(candidates, key=lambda key: candidates[key][0])
    throughput, batch_size, accuracy = candidates[name]
    return {"variant": name, "throughput_per_s": throughput, "batch_size": batch_size, "accuracy": accuracy,
            "reason": f"fastest at batch {batch_size} ({throughput}/s) among {', '.join(sorted(candidates))}, "
                      f"the variants within {round(100 * max_accuracy_drop, 2)} points of FP32 accuracy"}


def build_benchmark_report(task: TaskSettings, store: ArtifactStore, framework: str, model: str) -> StepOutcome:
    """Time each configured variant in a fresh process, add the accuracies and choose the variant to deploy."""
    _check_partition(task, framework, model)
    partition = _partition(task, framework, model)
    fp32_dir = store.require_latest("finetuned_model", partition)
    int8_dir = store.require_latest("quantized_model", partition)
    evaluation = read_metadata(store.require_latest("evaluation", partition))
    settings = task.benchmark
    inputs = fingerprints.benchmark_report_inputs(task, framework, fp32_dir.name, int8_dir.name)
    fp = fingerprint(inputs)
    reused = reuse_if_built(store, "benchmark_report", partition, fp)
    if reused:
        return reused

    harness_settings = BenchmarkSettings(batch_sizes=list(settings.batch_sizes), warmup=settings.warmup,
                                         iterations=settings.iterations)
    if settings.threads:
        harness_settings.threads = settings.threads
    use_case = use_case_of(task)
    variants = list(settings.variants)
    if ipex_available() and framework == "pytorch":
        variants += [name for name in use_case.ipex_variants if name not in variants]
    # FP32 and INT8 accuracies were measured by earlier steps; the other variants are measured here.
    measured = [name for name in variants if name.startswith(("bf16", "ipex"))]
    # Only IPEX static INT8 (image models) is calibrated here.
    calibrated = "ipex_int8" in variants
    dataset = load_task_dataset(task, store) if calibrated or measured else None
    if calibrated:
        harness_settings.calibration = [use_case.payload(dataset.samples[i]) for i in dataset.splits["train"]
                                        ][:task.quantization.calibration_samples]
    report = benchmark_models(fp32_dir, int8_dir, harness_settings, variants=variants,
                              samples=held_out_samples(task, store, dataset) if measured else None,
                              accuracy_variants=measured)

    int8 = read_metadata(int8_dir)
    report["accuracy"] = {"fp32": evaluation["test_accuracy"], "int8": int8["int8_test_accuracy"],
                          "test_samples": evaluation["test_samples"]}
    report["int8_method"] = use_case.int8_methods[framework]
    # What stayed in FP32 after quantization, and why, where the quantizer reports it (TensorFlow).
    if "fp32_op_types" in int8.get("quantization", {}):
        report["int8_fp32_op_types"] = int8["quantization"]["fp32_op_types"]
    report["deployed"] = choose_deployed_variant(report, task.quality.max_int8_accuracy_drop)
    int8_variant = task.int8_variant

    row = {
        "partition": f"{framework}|{model}",
        "fp32_accuracy": report["accuracy"]["fp32"], "int8_accuracy": report["accuracy"]["int8"],
        "fp32_compiled_latency_ms_b1": _timing(report, "fp32_compiled", 1, "median_latency_ms"),
        "int8_latency_ms_b1": _timing(report, int8_variant, 1, "median_latency_ms"),
        "fp32_eager_throughput_b32": _timing(report, "fp32_eager", 32, "throughput_per_s"),
        "fp32_compiled_throughput_b32": _timing(report, "fp32_compiled", 32, "throughput_per_s"),
        "bf16_throughput_b32": _timing(report, "bf16_compiled", 32, "throughput_per_s"),
        "int8_throughput_b32": _timing(report, int8_variant, 32, "throughput_per_s"),
        "int8_speedup_b32": report.get("int8_speedup_vs_fp32_compiled", {}).get("32"),
        "deployed_variant": report["deployed"]["variant"],
        # At the largest batch size measured, the one the choice compared.
        "deployed_throughput": report["deployed"].get("throughput_per_s"),
        "fp32_size_mb": round(report["size_bytes"]["fp32"] / 1e6, 2),
        "int8_size_mb": round(report["size_bytes"]["int8"] / 1e6, 2),
        "variants": ", ".join(variants),
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
