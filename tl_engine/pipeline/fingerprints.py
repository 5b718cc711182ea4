"""The inputs that identify each step's result. A step's fingerprint is the hash of these inputs.

Both the steps (when they build) and the status planner (when it predicts what a run would build)
call these functions, so the two always agree. Each artifact stores its inputs in its metadata,
which lets the planner report which input changed.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict
from pathlib import Path

from tl_engine.benchmark import ipex_available
from tl_engine.catalog import find_model
from tl_engine.pipeline.config import TaskSettings
from tl_engine.pipeline.outcome import CODE_VERSIONS
from tl_engine.store import fingerprint


def scan_day(task: TaskSettings, folder: Path, day: str) -> tuple[list[tuple], list]:
    """List `(sample_id, class_name, sha256, ...)` for the readable samples of one day, and the skipped files."""
    from tl_engine.pipeline.use_cases import use_case_of

    return use_case_of(task).scan_day(task, folder, day)


def raw_drop_inputs(rows: list[tuple]) -> dict:
    # The sample ids, classes and content hashes identify a day; a text row's text is in its hash.
    return {"code": CODE_VERSIONS["raw_drop"], "files": fingerprint([row[:3] for row in rows])}


def dataset_inputs(raw_drops: dict[str, str]) -> dict:
    return {"code": CODE_VERSIONS["dataset"], "raw_drops": dict(sorted(raw_drops.items()))}


def splits_inputs(task: TaskSettings, dataset_fp: str) -> dict:
    return {"code": CODE_VERSIONS["splits"], "dataset": dataset_fp, "settings": task.split.model_dump()}


def features_inputs(task: TaskSettings, framework: str, model: str, splits_fp: str) -> dict:
    training = task.training_for(framework, model)
    entry = find_model(model, framework, task.use_case)
    return {"code": CODE_VERSIONS["features"], "splits": splits_fp, "model": asdict(entry),
            "image_size": training.image_size, "fine_tune": training.fine_tune}


def finetuned_model_inputs(task: TaskSettings, framework: str, model: str, features_fp: str,
                           splits_fp: str) -> dict:
    return {"code": CODE_VERSIONS["finetuned_model"], "features": features_fp, "splits": splits_fp,
            "training": task.training_for(framework, model).model_dump()}


def evaluation_inputs(model_fp: str, splits_fp: str) -> dict:
    return {"code": CODE_VERSIONS["evaluation"], "finetuned_model": model_fp, "splits": splits_fp}


def quantized_model_inputs(task: TaskSettings, framework: str, model_fp: str) -> dict:
    inputs = {"code": CODE_VERSIONS["quantized_model"], "finetuned_model": model_fp,
              "quantization": task.quantization.model_dump()}
    if framework == "pytorch":
        # A PyTorch INT8 program loads only in the torch version that saved it (torch 2.8 cannot read
        # 2.14's), so an environment with another torch, such as the IPEX one, builds its own.
        inputs["torch"] = importlib.metadata.version("torch")
    return inputs


def benchmark_report_inputs(task: TaskSettings, framework: str, model_fp: str, int8_fp: str) -> dict:
    # A PyTorch report made where IPEX is installed measures more variants, so it is a different report.
    return {"code": CODE_VERSIONS["benchmark_report"], "finetuned_model": model_fp, "quantized_model": int8_fp,
            "benchmark": task.benchmark.model_dump(), "ipex": framework == "pytorch" and ipex_available()}


def leaderboard_inputs(reports: dict[str, str]) -> dict:
    return {"code": CODE_VERSIONS["leaderboard"], "benchmark_report": dict(sorted(reports.items()))}
