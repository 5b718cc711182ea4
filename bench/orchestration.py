"""Orchestration: what a full Dagster materialization adds over calling the engine's steps directly.

Three fresh processes are timed. The first calls the engine's pipeline steps in graph order, with no
Dagster. The second does the same work through `python -m tl_assets.run` (one Dagster run per
partition group, recorded in a new instance) on a new artifact store. The third repeats the second
with nothing changed. Full mode runs the demo's settings, so `make setup` must have written the
landing data first. Quick mode runs one small image model on 200 images that it writes itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench import common

TITLE = "Orchestration: Dagster materialization against direct engine calls, and a run with nothing stale"
COLUMNS = ["run", "seconds", "vs_direct_pct", "tasks", "models"]
DIRECT = """
import logging, sys
from tl_engine.pipeline import data_steps, model_steps, report_steps
from tl_engine.pipeline.config import load_settings
from tl_engine.store import ArtifactStore
logging.basicConfig(level=logging.WARNING)
settings = load_settings(sys.argv[1])
store = ArtifactStore(settings.artifact_dir)
for task in settings.tasks:
    for day in data_steps.landed_days(task):
        data_steps.build_raw_drop(task, store, day)
    data_steps.build_dataset(task, store)
    data_steps.build_splits(task, store)
    for entry in task.models:
        for step in (model_steps.build_features, model_steps.build_finetuned_model, model_steps.build_evaluation,
                     model_steps.build_quantized_model, report_steps.build_benchmark_report):
            step(task, store, entry.framework, entry.model)
    report_steps.build_leaderboard(task, store)
"""


def add_arguments(parser) -> None:
    parser.add_argument("--config", help="pipeline settings to run in full mode (default: configs/pipeline.yaml)")


def _quick_settings(work_dir: Path) -> dict:
    from tl_engine.demo_data import write_landing_drops

    landing = work_dir / "landing"
    write_landing_drops(common.FASHION_MNIST_ROOT, landing, ["2026-11-01", "2026-11-02"], 200)
    return {"tasks": [{
        "name": "fashion", "use_case": "image_classification", "landing_dir": str(landing),
        "start_date": "2026-11-01",
        "training": {"image_size": 32, "epochs": 3, "batch_size": 32},
        "quantization": {"approach": "static", "calibration_samples": 32},
        "benchmark": {"variants": ["fp32_eager", "int8_compiled"], "batch_sizes": [1, 8], "warmup": 1,
                      "iterations": 3, "threads": 2},
        "quality": {"min_test_accuracy": 0.0, "max_int8_accuracy_drop": 1.0},
        "models": [{"framework": "pytorch", "model": "mobilenet_v2"}],
    }]}


def _settings_file(settings: dict, work_dir: Path, name: str) -> Path:
    """Write `settings` with its own artifact store under `work_dir`, paths resolved against the project."""
    settings = {**settings, "project_root": str(common.ROOT), "artifact_dir": str(work_dir / name / "artifacts")}
    path = work_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def _timed_process(command: list[str], environment: dict) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, cwd=common.ROOT, env=environment)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-3000:]}")
    return seconds


def run(args, quick: bool) -> dict:
    if quick:
        settings = _quick_settings(args.work_dir)
    else:
        config = Path(args.config or common.ROOT / "configs" / "pipeline.yaml")
        settings = yaml.safe_load(config.read_text())
        settings.pop("project_root", None)
    environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
    direct = _settings_file(settings, args.work_dir, "direct")
    dagster = _settings_file(settings, args.work_dir, "dagster")
    dagster_env = {**environment, "DAGSTER_HOME": str(args.work_dir / "dagster_home")}
    Path(dagster_env["DAGSTER_HOME"]).mkdir()
    (Path(dagster_env["DAGSTER_HOME"]) / "dagster.yaml").write_text(
        (common.ROOT / "configs" / "dagster.yaml").read_text())
    seconds = {
        "engine steps called directly": _timed_process([sys.executable, "-c", DIRECT, str(direct)], environment),
        "Dagster materialization (python -m tl_assets.run)": _timed_process(
            [sys.executable, "-m", "tl_assets.run", "--config", str(dagster)], dagster_env),
        "Dagster, nothing stale (second run)": _timed_process(
            [sys.executable, "-m", "tl_assets.run", "--config", str(dagster)], dagster_env),
    }
    base = seconds["engine steps called directly"]
    tasks = len(settings["tasks"])
    models = sum(len(task["models"]) for task in settings["tasks"])
    rows = [{"run": name, "seconds": round(value, 1), "vs_direct_pct": round(100 * (value / base - 1), 1),
             "tasks": tasks, "models": models} for name, value in seconds.items()]
    rows[-1]["vs_direct_pct"] = None
    return {"settings": {"tasks": [task["name"] for task in settings["tasks"]]}, "rows": rows}
