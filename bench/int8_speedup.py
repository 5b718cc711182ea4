"""Measure INT8 against FP32 for every model the demo built, each variant in a fresh process.

Usage (after `make demo`): `.venv/bin/python bench/int8_speedup.py [--iterations 50] [--threads 2]`.
Prints a table and writes `bench/results/int8_speedup.json`. Target: INT8 throughput at batch 32 is
at least 2x that of the same FP32 model compiled with torch.compile.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
from pathlib import Path

from tl_engine.benchmark.harness import BenchmarkSettings, benchmark_models
from tl_engine.pipeline.config import load_settings
from tl_engine.pipeline.report_steps import markdown_table
from tl_engine.store import ArtifactStore

RESULTS = Path(__file__).resolve().parent / "results" / "int8_speedup.json"
COLUMNS = ["partition", "fp32_eager_b32", "fp32_compiled_b32", "int8_b32", "int8_vs_compiled_b32",
           "fp32_compiled_b1_ms", "int8_b1_ms", "threads"]


def throughput(report: dict, variant: str, batch_size: int, key: str = "throughput_per_s"):
    return next(row[key] for row in report["variants"][variant]["timings"] if row["batch_size"] == batch_size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="pipeline settings (default: configs/pipeline.yaml)")
    parser.add_argument("--iterations", type=int, default=50, help="timed forward passes per batch size")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads per variant")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = load_settings(args.config)
    store = ArtifactStore(settings.artifact_dir)
    harness = BenchmarkSettings(batch_sizes=[1, 32], warmup=10, iterations=args.iterations, threads=args.threads)
    rows = []
    for task in settings.tasks:
        if task.use_case != "image_classification":
            continue  # bench/text_int8.py measures the text models
        for entry in task.models:
            partition = f"{task.name}/{entry.framework}/{entry.model}"
            fp32_dir, int8_dir = store.latest("finetuned_model", partition), store.latest("quantized_model", partition)
            if fp32_dir is None or int8_dir is None:
                logging.warning("No built models for %s; run `make demo` first.", partition)
                continue
            report = benchmark_models(fp32_dir, int8_dir, harness)
            rows.append({
                "partition": entry.partition_key,
                "fp32_eager_b32": throughput(report, "fp32_eager", 32),
                "fp32_compiled_b32": throughput(report, "fp32_compiled", 32),
                "int8_b32": throughput(report, "int8_compiled", 32),
                "int8_vs_compiled_b32": report["int8_speedup_vs_fp32_compiled"]["32"],
                "fp32_compiled_b1_ms": throughput(report, "fp32_compiled", 1, "median_latency_ms"),
                "int8_b1_ms": throughput(report, "int8_compiled", 1, "median_latency_ms"),
                "threads": args.threads,
            })
    if not rows:
        return 1
    RESULTS.parent.mkdir(exist_ok=True)
    machine = {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
               "python": platform.python_version()}
    RESULTS.write_text(json.dumps({"machine": machine, "iterations": args.iterations, "rows": rows}, indent=2))
    sys.stdout.write(markdown_table(rows, COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
