"""The daily scenario: build, a new day lands, the sensor reacts, status and run rebuild only what is stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tl_assets.definitions import build_definitions
from tl_assets.run import materialize_task
from tl_engine.demo_data import write_landing_drops
from tl_engine.pipeline.config import load_settings
from tl_engine.pipeline.status import MODEL_STEPS, plan_task
from tl_engine.store import ArtifactStore, read_metadata

from conftest import FASHION_MNIST_ROOT

DAYS = ["2026-11-01", "2026-11-02"]
NEW_DAY = "2026-11-03"
MODELS = [{"framework": "pytorch", "model": "mobilenet_v2"}, {"framework": "pytorch", "model": "efficientnet_lite0"}]


def write_settings(project: Path, models: list[dict], quality: dict | None = None) -> Path:
    settings = {
        "project_root": ".", "artifact_dir": "artifacts",
        "tasks": [{
            "name": "tiny", "use_case": "image_classification", "landing_dir": "landing",
            "start_date": "2026-11-01",
            "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 0},
            "training": {"image_size": 32, "epochs": 2, "batch_size": 16, "head_hidden_units": 0},
            "quantization": {"calibration_samples": 32},
            "benchmark": {"variants": ["fp32_eager", "int8_compiled"], "batch_sizes": [1], "warmup": 1,
                          "iterations": 2, "threads": 2},
            "quality": quality or {"min_test_accuracy": 0.0, "max_int8_accuracy_drop": 1.0,
                                   "min_daily_accuracy": 1.0, "max_daily_accuracy_drop": 1.0},
            "models": models,
        }],
    }
    path = project / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def sensor_tick(defs: dg.Definitions, name: str, instance: dg.DagsterInstance, cursor: str | None):
    """Evaluate one tick of a sensor on the real instance; the result has run_requests, cursor and skip_message."""
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(instance=instance, instance_ref=instance.get_ref(), cursor=cursor,
                                      resources=defs.resources, definitions=defs)
    return sensor.evaluate_tick(context)


def run_request(defs, instance, request: dg.RunRequest) -> None:
    """Execute a sensor's run request in this process, as the daemon would launch it."""
    dg.materialize(list(defs.assets), selection=request.asset_selection, partition_key=request.partition_key,
                   instance=instance, resources=defs.resources, tags=request.tags)


def latest_fingerprints(store: ArtifactStore, key: str) -> dict[str, tuple[str, float]]:
    """Map each model step of a partition to its latest fingerprint and the artifact's modification time."""
    partition = "tiny/" + key.replace("|", "/")
    result = {}
    for step in MODEL_STEPS:
        path = store.require_latest(step, partition)
        result[step] = (path.name, path.stat().st_mtime)
    return result


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, fashion_mnist, torch_hub_cache):
    """A two-model project with two landed days, fully built on a test instance."""
    project = tmp_path_factory.mktemp("scenario")
    write_landing_drops(FASHION_MNIST_ROOT, project / "landing", DAYS, samples=200)
    config = write_settings(project, MODELS)
    defs = build_definitions(str(config))
    with dg.instance_for_test() as instance:
        materialize_task(defs, instance, load_settings(config).tasks[0])
        yield project, config, defs, instance


def test_daily_scenario_end_to_end(scenario):
    project, config, defs, instance = scenario
    settings = load_settings(config)
    store = ArtifactStore(settings.artifact_dir)
    landing = "tiny_landing_sensor"

    # The first tick records the days that are already built.
    first = sensor_tick(defs, landing, instance, None)
    assert sorted(r.partition_key for r in first.run_requests) == DAYS
    cursor = first.cursor

    # A new day lands; one tick requests exactly raw_drop and daily_evaluation for that day.
    write_landing_drops(FASHION_MNIST_ROOT, project / "landing", [NEW_DAY], samples=100, seed=1)
    tick = sensor_tick(defs, landing, instance, cursor)
    [request] = tick.run_requests
    assert request.partition_key == NEW_DAY
    assert set(request.asset_selection) == {dg.AssetKey(["tiny", "raw_drop"]), dg.AssetKey(["tiny", "daily_evaluation"])}
    dataset_before = store.require_latest("dataset", "tiny").name
    run_request(defs, instance, request)

    # Daily evaluation covers both models, FP32 and INT8, on the new day's samples only.
    daily = read_metadata(store.require_latest("daily_evaluation", f"tiny/{NEW_DAY}"))
    assert [row["model"] for row in daily["rows"]] == ["pytorch|mobilenet_v2", "pytorch|efficientnet_lite0"]
    assert all(row["samples"] == 100 for row in daily["rows"])
    assert all(row["int8_accuracy"] is not None for row in daily["rows"])
    assert daily["retrain"] == ["pytorch|mobilenet_v2", "pytorch|efficientnet_lite0"]

    # The retrain sensor requests the grown dataset first, because the models train on it.
    retrain = sensor_tick(defs, "tiny_retrain_sensor", instance, None)
    [data_request] = retrain.run_requests
    assert set(data_request.asset_selection) == {dg.AssetKey(["tiny", "dataset"]), dg.AssetKey(["tiny", "splits"])}

    # Status lists the dependents of the grown dataset, with the reason.
    stale = {(s.asset, s.partition): s for s in plan_task(settings.tasks[0], store) if s.stale}
    assert ("raw_drop", NEW_DAY) not in stale
    assert stale[("dataset", None)].reasons == [f"raw_drops: {NEW_DAY} is new"]
    expected = {("dataset", None), ("splits", None), ("leaderboard", None)}
    expected |= {(step, model["framework"] + "|" + model["model"]) for step in MODEL_STEPS for model in MODELS}
    assert set(stale) == expected

    # Once the data is current, the retrain sensor requests every step of the flagged models.
    run_request(defs, instance, data_request)
    retrain = sensor_tick(defs, "tiny_retrain_sensor", instance, retrain.cursor)
    assert sorted(r.partition_key for r in retrain.run_requests) == sorted(daily["retrain"])
    for model_request in retrain.run_requests:
        assert model_request.asset_selection == [dg.AssetKey(["tiny", step]) for step in MODEL_STEPS]
    stale = {(s.asset, s.partition) for s in plan_task(settings.tasks[0], store) if s.stale}
    assert stale == expected - {("dataset", None), ("splits", None)}

    # The run command rebuilds exactly the stale partitions.
    launched = materialize_task(defs, instance, settings.tasks[0])
    assert launched == [f"{', '.join(MODEL_STEPS)} [pytorch|mobilenet_v2]",
                        f"{', '.join(MODEL_STEPS)} [pytorch|efficientnet_lite0]", "leaderboard"]
    retrain = sensor_tick(defs, "tiny_retrain_sensor", instance, retrain.cursor)
    assert not retrain.run_requests
    assert retrain.skip_message == "Retrained and current: pytorch|efficientnet_lite0, pytorch|mobilenet_v2."
    assert store.require_latest("dataset", "tiny").name != dataset_before
    assert plan_task(settings.tasks[0], store) and not [s for s in plan_task(settings.tasks[0], store) if s.stale]

    # A new learning rate for one model rebuilds its training, evaluation, INT8 and benchmark only.
    untouched = latest_fingerprints(store, "pytorch|efficientnet_lite0")
    changed_before = latest_fingerprints(store, "pytorch|mobilenet_v2")
    models = [dict(MODELS[0], training={"learning_rate": 0.01}), MODELS[1]]
    write_settings(project, models)
    settings = load_settings(config)
    stale = [(s.asset, s.partition, s.reasons) for s in plan_task(settings.tasks[0], store) if s.stale]
    assert stale[0] == ("finetuned_model", "pytorch|mobilenet_v2",
                        ["training: learning_rate changed (0.001 -> 0.01)"])
    launched = materialize_task(build_definitions(str(config)), instance, settings.tasks[0])
    assert launched == ["finetuned_model, evaluation, quantized_model, benchmark_report [pytorch|mobilenet_v2]",
                        "leaderboard"]
    assert latest_fingerprints(store, "pytorch|efficientnet_lite0") == untouched
    changed_after = latest_fingerprints(store, "pytorch|mobilenet_v2")
    assert changed_after["features"] == changed_before["features"]
    for step in ("finetuned_model", "evaluation", "quantized_model", "benchmark_report"):
        assert changed_after[step][0] != changed_before[step][0], step

    # Nothing changed: nothing runs.
    assert materialize_task(build_definitions(str(config)), instance, settings.tasks[0]) == []


def test_landing_sensor_skips_incomplete_day(scenario, tmp_path):
    project, config, defs, instance = scenario
    first = sensor_tick(defs, "tiny_landing_sensor", instance, None)
    half = project / "landing" / "2026-11-20"
    shutil.copytree(project / "landing" / DAYS[0], half)
    (half / "_READY").unlink()
    try:
        tick = sensor_tick(defs, "tiny_landing_sensor", instance, first.cursor)
    finally:
        shutil.rmtree(half)

    assert not tick.run_requests
    assert "2026-11-20 has no _READY yet" in tick.skip_message


def test_landing_sensor_requests_replaced_day(scenario):
    project, config, defs, instance = scenario
    first = sensor_tick(defs, "tiny_landing_sensor", instance, None)
    replaced = project / "landing" / DAYS[0]
    victim, other = sorted(replaced.rglob("*.png"))[:2]
    original = victim.read_bytes()
    victim.write_bytes(other.read_bytes())
    try:
        tick = sensor_tick(defs, "tiny_landing_sensor", instance, first.cursor)
    finally:
        victim.write_bytes(original)

    [request] = tick.run_requests
    assert request.partition_key == DAYS[0]
    assert request.run_key != next(r.run_key for r in first.run_requests if r.partition_key == DAYS[0])


def test_racing_ticks_share_run_keys(scenario):
    _, _, defs, instance = scenario

    first = sensor_tick(defs, "tiny_landing_sensor", instance, None)
    second = sensor_tick(defs, "tiny_landing_sensor", instance, None)

    assert [r.run_key for r in first.run_requests] == [r.run_key for r in second.run_requests]
