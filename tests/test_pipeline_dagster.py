"""The asset graph run in-process by Dagster on a real instance, on tiny real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tl_assets.definitions import build_definitions
from tl_assets.partitions import register_partitions
from tl_assets.run import materialize_task
from tl_engine.demo_data import write_landing_drops
from tl_engine.errors import TLError
from tl_engine.pipeline.config import load_settings
from tl_engine.store import ArtifactStore, read_metadata

from conftest import FASHION_MNIST_ROOT

DAYS = ["2026-11-01", "2026-11-02"]
MODEL_ASSETS = ["features", "finetuned_model", "evaluation", "quantized_model", "benchmark_report"]


def write_settings(project: Path, models: list[dict], landing: str = "landing", quality: dict | None = None) -> Path:
    """Write a pipeline settings file sized for tests: 32 px images, 2 epochs, tiny benchmarks."""
    settings = {
        "project_root": ".",
        "artifact_dir": "artifacts",
        "tasks": [{
            "name": "tiny",
            "use_case": "image_classification",
            "landing_dir": landing,
            "start_date": "2026-11-01",
            "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 0},
            "training": {"image_size": 32, "epochs": 2, "batch_size": 16, "head_hidden_units": 0},
            "quantization": {"calibration_samples": 32},
            "benchmark": {"variants": ["fp32_eager", "int8_compiled"], "batch_sizes": [1, 4], "warmup": 1,
                          "iterations": 2, "threads": 2},
            "quality": quality or {"min_test_accuracy": 0.0, "max_int8_accuracy_drop": 1.0},
            "models": models,
        }],
    }
    path = project / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory, fashion_mnist, torch_hub_cache) -> Path:
    """A project folder with two landed days of 100 Fashion-MNIST images each and one model."""
    project = tmp_path_factory.mktemp("project")
    write_landing_drops(FASHION_MNIST_ROOT, project / "landing", DAYS, samples=200)
    write_settings(project, [{"framework": "pytorch", "model": "mobilenet_v2"}])
    return project


@pytest.fixture(scope="module")
def built_graph(tiny_project):
    """Materialize every asset of the tiny task once, on a test instance; return (instance, settings, defs)."""
    config = str(tiny_project / "pipeline.yaml")
    settings = load_settings(config)
    defs = build_definitions(config)
    with dg.instance_for_test() as instance:
        materialize_task(defs, instance, settings.tasks[0])
        yield instance, settings, defs


def materializations(instance: dg.DagsterInstance, asset: str) -> list[dg.AssetMaterialization]:
    records = instance.fetch_materializations(dg.AssetKey(["tiny", asset]), limit=100).records
    return [record.asset_materialization for record in records]


def sensor_tick(defs: dg.Definitions, name: str, instance: dg.DagsterInstance):
    """Evaluate one tick of a sensor on the real instance, with no cursor."""
    context = dg.build_sensor_context(instance=instance, instance_ref=instance.get_ref(),
                                      resources=defs.resources, definitions=defs)
    return defs.resolve_sensor_def(name).evaluate_tick(context)


def failure_text(result) -> str:
    """Join the messages of the step failure and the exceptions that caused it."""
    [failure] = [event for event in result.all_events if event.is_step_failure]
    error, parts = failure.step_failure_data.error, []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def test_definitions_list_every_asset(tiny_project):
    defs = build_definitions(str(tiny_project / "pipeline.yaml"))

    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}

    expected = {"raw_drop", "dataset", "splits", *MODEL_ASSETS, "leaderboard", "daily_evaluation"}
    assert keys == {f"tiny/{name}" for name in expected}


def test_model_partitions_come_from_the_instance(tiny_project):
    config = str(tiny_project / "pipeline.yaml")
    defs = build_definitions(config)
    partitions = defs.resolve_assets_def(dg.AssetKey(["tiny", "finetuned_model"])).partitions_def

    with dg.instance_for_test() as instance:
        before = partitions.get_partition_keys(dynamic_partitions_store=instance)
        added = register_partitions(load_settings(config).tasks[0], instance)
        after = partitions.get_partition_keys(dynamic_partitions_store=instance)

    assert before == []
    assert added == ["pytorch", "mobilenet_v2"]
    assert after == ["pytorch|mobilenet_v2"]


def test_model_sensor_waits_for_splits(tiny_project, tmp_path):
    config = write_settings(tmp_path, [{"framework": "pytorch", "model": "mobilenet_v2"}],
                            landing=str(tiny_project / "landing"))
    defs = build_definitions(str(config))

    with dg.instance_for_test() as instance:
        tick = sensor_tick(defs, "tiny_model_sensor", instance)

    assert not tick.run_requests
    assert "splits are not built yet" in tick.skip_message
    requested = {request.partitions_def_name: list(request.partition_keys)
                 for request in tick.dynamic_partitions_requests}
    assert requested == {"tiny_frameworks": ["pytorch"], "tiny_models": ["mobilenet_v2"]}


def test_graph_builds_leaderboard_row(built_graph):
    instance, settings, _ = built_graph
    store = ArtifactStore(settings.artifact_dir)

    rows = read_metadata(store.require_latest("leaderboard", "tiny"))["rows"]

    assert [row["partition"] for row in rows] == ["pytorch|mobilenet_v2"]
    assert 0.0 <= rows[0]["fp32_accuracy"] <= 1.0
    assert 0.0 <= rows[0]["int8_accuracy"] <= 1.0
    assert rows[0]["int8_throughput_b32"] is None  # batch 32 is not in the tiny settings
    assert rows[0]["deployed_variant"] in rows[0]["variants"].split(", ")
    assert rows[0]["deployed_throughput"] > 0
    assert rows[0]["fp32_size_mb"] > 1


def test_graph_records_each_day(built_graph):
    instance, _, _ = built_graph

    days = sorted(m.partition for m in materializations(instance, "raw_drop"))

    assert days == DAYS


def test_data_version_is_fingerprint(built_graph):
    instance, settings, _ = built_graph
    store = ArtifactStore(settings.artifact_dir)
    [event] = materializations(instance, "finetuned_model")

    assert event.tags["dagster/data_version"] == store.require_latest("finetuned_model",
                                                                       "tiny/pytorch/mobilenet_v2").name
    assert event.metadata["reused"].value is False


def test_evaluation_shows_confusion_matrix(built_graph):
    instance, _, _ = built_graph
    [event] = materializations(instance, "evaluation")

    assert event.metadata["confusion_matrix"].value.startswith("![confusion_matrix](data:image/png;base64,")
    assert 0.0 <= event.metadata["test_accuracy"].value <= 1.0


def test_status_check_passes_after_build(built_graph):
    instance, _, _ = built_graph
    check_key = dg.AssetCheckKey(dg.AssetKey(["tiny", "leaderboard"]), "pipeline_up_to_date")

    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([check_key])[check_key]

    assert record.event.asset_check_evaluation.passed is True


def test_day_with_bad_file_counts_it(tiny_project, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(tiny_project / "landing" / DAYS[0], landing / DAYS[0])
    (landing / DAYS[0] / "coat" / "broken.png").write_bytes(b"not a png")
    config = write_settings(tmp_path, [{"framework": "pytorch", "model": "mobilenet_v2"}])
    defs = build_definitions(str(config))

    with dg.instance_for_test() as instance:
        dg.materialize(list(defs.assets), selection=[dg.AssetKey(["tiny", "raw_drop"])], partition_key=DAYS[0],
                       instance=instance, resources=defs.resources)
        [event] = materializations(instance, "raw_drop")

    assert event.metadata["skipped_files"].value == 1
    assert event.metadata["samples"].value == 100


def test_second_run_launches_nothing(built_graph):
    instance, settings, defs = built_graph
    runs_before = len(instance.get_runs())

    launched = materialize_task(defs, instance, settings.tasks[0])

    assert launched == []
    assert len(instance.get_runs()) == runs_before


def test_forced_run_reuses_every_step(built_graph):
    instance, settings, defs = built_graph
    store = ArtifactStore(settings.artifact_dir)
    before = {kind: store.require_latest(kind, "tiny/pytorch/mobilenet_v2").name for kind in MODEL_ASSETS}

    materialize_task(defs, instance, settings.tasks[0], everything=True)

    for asset in ["raw_drop", "dataset", "splits", *MODEL_ASSETS, "leaderboard"]:
        latest = materializations(instance, asset)[0]
        assert latest.metadata["reused"].value is True, asset
    after = {kind: store.require_latest(kind, "tiny/pytorch/mobilenet_v2").name for kind in MODEL_ASSETS}
    assert after == before


def test_unimplemented_partition_names_frameworks(tiny_project, tmp_path):
    config = write_settings(tmp_path, [{"framework": "pytorch", "model": "mobilenet_v2"},
                                       {"framework": "tensorflow", "model": "efficientnet_lite0"}],
                            landing=str(tiny_project / "landing"))
    defs = build_definitions(str(config))

    with dg.instance_for_test() as instance:
        register_partitions(load_settings(config).tasks[0], instance)
        result = dg.materialize(list(defs.assets), selection=[dg.AssetKey(["tiny", "features"])],
                                partition_key="tensorflow|efficientnet_lite0", instance=instance,
                                resources=defs.resources, raise_on_error=False)

    assert not result.success
    message = failure_text(result)
    assert "'tensorflow'" in message
    assert "Valid frameworks for it: pytorch" in message


def test_missing_landing_folder_fails_clearly(tmp_path):
    config = write_settings(tmp_path, [{"framework": "pytorch", "model": "mobilenet_v2"}], landing="nowhere")
    defs = build_definitions(str(config))

    with dg.instance_for_test() as instance:
        result = dg.materialize(list(defs.assets), selection=[dg.AssetKey(["tiny", "raw_drop"])],
                                partition_key=DAYS[0], instance=instance, resources=defs.resources,
                                raise_on_error=False)

    assert not result.success
    assert f"Landing folder not found: {tmp_path / 'nowhere'}" in failure_text(result)


def test_day_without_ready_marker_is_rejected(tiny_project, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(tiny_project / "landing" / DAYS[0], landing / DAYS[0])
    (landing / DAYS[0] / "_READY").unlink()
    config = write_settings(tmp_path, [{"framework": "pytorch", "model": "mobilenet_v2"}])
    defs = build_definitions(str(config))

    with dg.instance_for_test() as instance:
        result = dg.materialize(list(defs.assets), selection=[dg.AssetKey(["tiny", "raw_drop"])],
                                partition_key=DAYS[0], instance=instance, resources=defs.resources,
                                raise_on_error=False)

    assert "has no _READY marker" in failure_text(result)
    assert not (tmp_path / "artifacts" / "raw_drop").exists()


def test_weak_model_is_not_quantized(tiny_project, tmp_path):
    config = write_settings(tmp_path, [{"framework": "pytorch", "model": "mobilenet_v2"}],
                            landing=str(tiny_project / "landing"), quality={"min_test_accuracy": 1.0})
    defs = build_definitions(str(config))
    assets = list(defs.assets)
    steps = [dg.AssetKey(["tiny", name]) for name in ("features", "finetuned_model", "evaluation",
                                                      "quantized_model")]

    with dg.instance_for_test() as instance:
        register_partitions(load_settings(config).tasks[0], instance)
        for day in DAYS:
            dg.materialize(assets, selection=[dg.AssetKey(["tiny", "raw_drop"])], partition_key=day,
                           instance=instance, resources=defs.resources)
        dg.materialize(assets, selection=[dg.AssetKey(["tiny", "dataset"]), dg.AssetKey(["tiny", "splits"])],
                       instance=instance, resources=defs.resources)
        result = dg.materialize(assets, selection=steps, partition_key="pytorch|mobilenet_v2", instance=instance,
                                resources=defs.resources, raise_on_error=False)
        [check] = result.get_asset_check_evaluations()
        quantized = materializations(instance, "quantized_model")

    assert check.check_name == "test_accuracy_floor"
    assert check.passed is False
    assert quantized == []


def test_sensor_builds_added_model_alone(built_graph, tiny_project):
    instance, settings, _ = built_graph
    config = tiny_project / "pipeline.yaml"
    original = config.read_text()
    store = ArtifactStore(settings.artifact_dir)
    before = {kind: store.require_latest(kind, "tiny/pytorch/mobilenet_v2").name for kind in MODEL_ASSETS}
    write_settings(tiny_project, [{"framework": "pytorch", "model": "mobilenet_v2"},
                                  {"framework": "pytorch", "model": "efficientnet_lite0"}])
    try:
        defs = build_definitions(str(config))
        tick = sensor_tick(defs, "tiny_model_sensor", instance)
        # The daemon adds the partitions before it launches the runs; do the same here.
        for partitions in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(partitions.partitions_def_name, partitions.partition_keys)
        [request] = tick.run_requests
        dg.materialize(list(defs.assets), selection=request.asset_selection, partition_key=request.partition_key,
                       instance=instance, resources=defs.resources)
        launched = materialize_task(defs, instance, load_settings(config).tasks[0])
        quiet = sensor_tick(defs, "tiny_model_sensor", instance)
    finally:
        config.write_text(original)

    assert request.partition_key == "pytorch|efficientnet_lite0"
    assert set(request.asset_selection) == {dg.AssetKey(["tiny", name]) for name in MODEL_ASSETS}
    assert launched == ["leaderboard"]
    assert not quiet.run_requests
    assert not quiet.dynamic_partitions_requests
    after = {kind: store.require_latest(kind, "tiny/pytorch/mobilenet_v2").name for kind in MODEL_ASSETS}
    assert after == before


def test_failed_partition_does_not_stop_run(tiny_project, tmp_path):
    config = write_settings(tmp_path, [{"framework": "pytorch", "model": "mobilenet_v2"}],
                            landing=str(tiny_project / "landing"), quality={"min_test_accuracy": 1.0})
    defs = build_definitions(str(config))

    with dg.instance_for_test() as instance:
        with pytest.raises(TLError) as error:
            materialize_task(defs, instance, load_settings(config).tasks[0])
        leaderboards = materializations(instance, "leaderboard")

    assert "Task tiny: 1 of 5 runs failed: features, finetuned_model, evaluation, quantized_model, " \
           "benchmark_report [pytorch|mobilenet_v2] (run " in str(error.value)
    assert len(leaderboards) == 1
