"""Faults: a training process killed midway leaves nothing that a later run would take for finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import yaml

from tl_engine.demo_data import write_landing_drops
from tl_engine.pipeline import data_steps, model_steps
from tl_engine.pipeline.config import load_settings
from tl_engine.pipeline.status import plan_task
from tl_engine.store import ArtifactStore

from conftest import FASHION_MNIST_ROOT

PARTITION = "tiny/pytorch/mobilenet_v2"


def write_settings(project, epochs: int):
    settings = {"project_root": ".", "artifact_dir": "artifacts", "tasks": [{
        "name": "tiny", "use_case": "image_classification", "landing_dir": "landing", "start_date": "2026-11-01",
        "training": {"image_size": 32, "epochs": epochs, "batch_size": 16, "head_hidden_units": 0},
        "models": [{"framework": "pytorch", "model": "mobilenet_v2"}]}]}
    path = project / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_killed_training_leaves_no_artifact(tmp_path, fashion_mnist, torch_hub_cache):
    write_landing_drops(FASHION_MNIST_ROOT, tmp_path / "landing", ["2026-11-01"], samples=100)
    config = write_settings(tmp_path, epochs=1_000_000)
    task = load_settings(config).tasks[0]
    store = ArtifactStore(load_settings(config).artifact_dir)
    data_steps.build_raw_drop(task, store, "2026-11-01")
    data_steps.build_dataset(task, store)
    data_steps.build_splits(task, store)
    model_steps.build_features(task, store, "pytorch", "mobilenet_v2")
    script = textwrap.dedent(f"""
        import logging
        logging.basicConfig(level=logging.INFO)
        from tl_engine.pipeline import model_steps
        from tl_engine.pipeline.config import load_settings
        from tl_engine.store import ArtifactStore
        settings = load_settings({str(config)!r})
        model_steps.build_finetuned_model(settings.tasks[0], ArtifactStore(settings.artifact_dir),
                                          "pytorch", "mobilenet_v2")
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            if "head training epoch 3/" in line:
                break
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    assert process.returncode == -signal.SIGKILL
    assert store.latest("finetuned_model", PARTITION) is None
    assert not list((store.root / "finetuned_model").glob("*/*/*/tl_metadata.json"))
    [status] = [s for s in plan_task(task, store) if s.asset == "finetuned_model"]
    assert status.state == "missing"

    retry = load_settings(write_settings(tmp_path, epochs=2)).tasks[0]
    outcome = model_steps.build_finetuned_model(retry, store, "pytorch", "mobilenet_v2")
    assert outcome.reused is False
    assert store.latest("finetuned_model", PARTITION) == outcome.path
