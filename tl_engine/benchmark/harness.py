"""Benchmarking FP32 against INT8: each variant in a fresh process, with a warm-up, median latency,
throughput, accuracy and size on disk."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tl_engine.errors import TLError

logger = logging.getLogger(__name__)


@dataclass
class BenchmarkSettings:
    """Measurement settings: batch sizes, repetitions and CPU threads."""

    batch_sizes: list[int] = field(default_factory=lambda: [1, 32])
    warmup: int = 5
    iterations: int = 20
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    timeout_seconds: int = 1800
    # The Python that runs each variant: this one, or another environment's (the IPEX one, say).
    python: str = sys.executable
    # Training image paths that the ipex_int8 variant calibrates on.
    calibration: list[str] = field(default_factory=list)


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def run_variant(model_dir: Path, variant: str, settings: BenchmarkSettings,
                samples: list[tuple[str, int]] | None = None) -> dict:
    """Run one variant in a new Python process and return its measurements."""
    request = {"model_dir": str(model_dir), "variant": variant, "batch_sizes": settings.batch_sizes,
               "warmup": settings.warmup, "iterations": settings.iterations, "threads": settings.threads,
               "samples": [[str(path), int(label)] for path, label in (samples or [])],
               "calibration": [str(path) for path in settings.calibration]}
    with tempfile.TemporaryDirectory(prefix="tl-bench-") as scratch:
        request_file, result_file = Path(scratch) / "request.json", Path(scratch) / "result.json"
        request_file.write_text(json.dumps(request))
        command = [settings.python, "-m", "tl_engine.benchmark.worker", str(request_file), str(result_file)]
        logger.info("Benchmarking %s (%s) in a fresh process", model_dir.name, variant)
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=settings.timeout_seconds)
        except subprocess.TimeoutExpired as exc:
            raise TLError(f"Benchmark of {model_dir} ({variant}) timed out after {settings.timeout_seconds} s.") from exc
        if completed.returncode != 0 or not result_file.is_file():
            tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
            raise TLError(f"Benchmark of {model_dir} ({variant}) failed with exit code {completed.returncode}:\n{tail}")
        return json.loads(result_file.read_text())


IMAGE_VARIANTS = ("fp32_eager", "fp32_compiled", "int8_compiled")


def benchmark_models(fp32_dir: Path, int8_dir: Path | None, settings: BenchmarkSettings,
                     samples: list[tuple[str, int]] | None = None, variants=IMAGE_VARIANTS,
                     accuracy_variants=None) -> dict:
    """Measure FP32 eager, FP32 compiled, bfloat16 and (when given) INT8; return a report with ratios.

    The INT8 variant is `int8_compiled` for static INT8 image models and `int8_dynamic` for dynamic
    INT8 text models; `variants` may list either. Accuracy on `samples` is measured for every
    variant, or only for those in `accuracy_variants` when it is given.
    """
    paths = {name: int8_dir if name.startswith("int8") else fp32_dir for name in variants}
    chosen = [name for name in variants if paths[name] is not None]
    results = {name: run_variant(Path(paths[name]), name, settings,
                                 samples if accuracy_variants is None or name in accuracy_variants else None)
               for name in chosen}
    recorded = {key: value for key, value in asdict(settings).items() if key != "calibration"}
    report = {"settings": recorded, "variants": results,
              "size_bytes": {"fp32": directory_size(fp32_dir)}}
    if int8_dir is not None:
        report["size_bytes"]["int8"] = directory_size(int8_dir)
    int8_variant = next((name for name in ("int8_compiled", "int8_dynamic") if name in results), None)
    if int8_variant and "fp32_compiled" in results:
        report["int8_speedup_vs_fp32_compiled"] = {
            str(fp32["batch_size"]): round(int8["throughput_per_s"] / fp32["throughput_per_s"], 2)
            for fp32, int8 in zip(results["fp32_compiled"]["timings"], results[int8_variant]["timings"])
        }
    return report
