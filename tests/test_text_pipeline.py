"""The text task through the same asset graph, on real Rotten Tomatoes snippets in daily CSV drops."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from tl_assets.definitions import build_definitions
from tl_assets.run import materialize_task
from tl_engine.demo_text_data import write_review_drops
from tl_engine.pipeline.config import load_settings
from tl_engine.pipeline.daily_steps import build_daily_evaluation
from tl_engine.store import ArtifactStore, read_metadata

DAYS = ["2026-11-01", "2026-11-02"]


def write_settings(project: Path) -> Path:
    """Write a text task sized for tests: 32 tokens, one epoch, tiny benchmarks."""
    settings = {
        "project_root": ".", "artifact_dir": "artifacts",
        "tasks": [{
            "name": "texts", "use_case": "text_classification", "landing_dir": "landing",
            "start_date": "2026-11-01",
            "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 0},
            "training": {"max_length": 32, "epochs": 1, "batch_size": 8, "learning_rate": 5e-5},
            "quantization": {"approach": "dynamic"},
            "benchmark": {"variants": ["fp32_eager", "int8_dynamic"], "batch_sizes": [1, 4], "warmup": 1,
                          "iterations": 2, "threads": 2},
            "quality": {"min_test_accuracy": 0.0, "max_int8_accuracy_drop": 1.0, "min_daily_accuracy": 0.0,
                        "max_daily_accuracy_drop": 1.0},
            "models": [{"framework": "pytorch", "model": "minilm_l6"}],
        }],
    }
    path = project / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def text_graph(tmp_path_factory, huggingface_cache):
    """Build the whole text task once on a test instance; return (instance, settings, defs, launched)."""
    project = tmp_path_factory.mktemp("text_project")
    write_review_drops(project / "landing", DAYS, samples=80)
    config = write_settings(project)
    settings = load_settings(config)
    defs = build_definitions(str(config))
    with dg.instance_for_test() as instance:
        launched = materialize_task(defs, instance, settings.tasks[0])
        yield instance, settings, defs, launched, project


def test_text_task_builds_every_asset(text_graph):
    _, settings, _, launched, _ = text_graph
    store = ArtifactStore(settings.artifact_dir)

    [row] = read_metadata(store.require_latest("leaderboard", "texts"))["rows"]

    assert launched[-1] == "leaderboard"
    assert row["partition"] == "pytorch|minilm_l6"
    assert 0.0 <= row["fp32_accuracy"] <= 1.0
    assert 0.0 <= row["int8_accuracy"] <= 1.0
    assert row["int8_latency_ms_b1"] > 0


def test_text_model_steps_use_dynamic_int8(text_graph):
    _, settings, _, _, _ = text_graph
    store = ArtifactStore(settings.artifact_dir)
    partition = "texts/pytorch/minilm_l6"

    features = read_metadata(store.require_latest("features", partition))
    int8 = read_metadata(store.require_latest("quantized_model", partition))
    report = read_metadata(store.require_latest("benchmark_report", partition))

    assert "cache is left empty" in features["note"]
    assert int8["format"] == "hf_dynamic_int8"
    assert int8["int8_test_accuracy"] is not None
    assert "dynamic quantization" in report["report"]["int8_method"]


def test_text_second_run_launches_nothing(text_graph):
    instance, settings, defs, _, _ = text_graph

    assert materialize_task(defs, instance, settings.tasks[0]) == []


def test_text_daily_evaluation_reads_new_csv(text_graph):
    instance, settings, defs, _, project = text_graph
    write_review_drops(project / "landing", ["2026-11-03"], samples=20, seed=1)
    task = settings.tasks[0]
    store = ArtifactStore(settings.artifact_dir)

    dg.materialize(list(defs.assets), selection=[dg.AssetKey(["texts", "raw_drop"])], partition_key="2026-11-03",
                   instance=instance, resources=defs.resources)
    outcome = build_daily_evaluation(task, store, "2026-11-03")

    [row] = outcome.metadata["rows"]
    assert row["samples"] == 20
    assert row["int8_accuracy"] is not None
