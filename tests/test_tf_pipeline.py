"""`tensorflow|mobilenet_v2` beside `pytorch|mobilenet_v2` in one asset graph, run by Dagster on a real instance."""

from __future__ import annotations

import dagster as dg
import pytest

from conftest import FASHION_MNIST_ROOT
from test_pipeline_dagster import DAYS, MODEL_ASSETS, write_settings
from tl_assets.definitions import build_definitions
from tl_assets.run import materialize_task
from tl_engine.demo_data import write_landing_drops
from tl_engine.pipeline.config import load_settings
from tl_engine.store import ArtifactStore, read_metadata

MODELS = [{"framework": "pytorch", "model": "mobilenet_v2"}, {"framework": "tensorflow", "model": "mobilenet_v2"}]


@pytest.fixture(scope="module")
def two_framework_graph(tmp_path_factory, fashion_mnist, torch_hub_cache, tfhub_cache):
    """Both frameworks' MobileNetV2 built from the same splits, in one in-process Dagster run per partition."""
    project = tmp_path_factory.mktemp("two_frameworks")
    write_landing_drops(FASHION_MNIST_ROOT, project / "landing", DAYS, samples=200)
    config = write_settings(project, MODELS)
    settings = load_settings(str(config))
    defs = build_definitions(str(config))
    with dg.instance_for_test() as instance:
        launched = materialize_task(defs, instance, settings.tasks[0])
        yield instance, settings, defs, launched


@pytest.mark.slow
def test_leaderboard_has_a_row_per_framework(two_framework_graph):
    _, settings, _, _ = two_framework_graph
    store = ArtifactStore(settings.artifact_dir)

    rows = {row["partition"]: row for row in read_metadata(store.require_latest("leaderboard", "tiny"))["rows"]}

    assert set(rows) == {"pytorch|mobilenet_v2", "tensorflow|mobilenet_v2"}
    for row in rows.values():
        assert 0.0 <= row["fp32_accuracy"] <= 1.0
        assert 0.0 <= row["int8_accuracy"] <= 1.0
        assert row["fp32_size_mb"] > 1


@pytest.mark.slow
def test_tensorflow_steps_write_tensorflow_artifacts(two_framework_graph):
    _, settings, _, _ = two_framework_graph
    store = ArtifactStore(settings.artifact_dir)
    partition = "tiny/tensorflow/mobilenet_v2"

    model = read_metadata(store.require_latest("finetuned_model", partition))
    int8 = read_metadata(store.require_latest("quantized_model", partition))
    report = read_metadata(store.require_latest("benchmark_report", partition))["report"]

    assert model["format"] == "tf_saved_model"
    assert model["backbone_source"]["converted_substitute"] is True
    assert int8["format"] == "tf_saved_model_int8"
    assert int8["int8_test_accuracy"] is not None
    assert set(report["variants"]) == {"fp32_eager", "int8_compiled"}
    assert "SavedModel" in report["int8_method"]


@pytest.mark.slow
def test_second_run_trains_nothing_for_either_framework(two_framework_graph):
    instance, settings, defs, _ = two_framework_graph
    store = ArtifactStore(settings.artifact_dir)
    before = {(framework, kind): store.require_latest(kind, f"tiny/{framework}/mobilenet_v2").name
              for framework in ("pytorch", "tensorflow") for kind in MODEL_ASSETS}

    launched = materialize_task(defs, instance, settings.tasks[0])

    assert launched == []
    after = {(framework, kind): store.require_latest(kind, f"tiny/{framework}/mobilenet_v2").name
             for framework in ("pytorch", "tensorflow") for kind in MODEL_ASSETS}
    assert after == before
