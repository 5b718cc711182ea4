"""Validation of the pipeline settings file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tl_engine.errors import ConfigError
from tl_engine.pipeline.config import load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, settings: dict) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def base_settings() -> dict:
    return yaml.safe_load((REPO_ROOT / "configs" / "pipeline.yaml").read_text())


def test_project_settings_load():
    settings = load_settings(REPO_ROOT / "configs" / "pipeline.yaml")

    assert settings.tasks[0].landing_dir == REPO_ROOT / "data" / "landing" / "fashion"
    assert [m.partition_key for m in settings.tasks[0].models] == ["pytorch|mobilenet_v2",
                                                                   "pytorch|efficientnet_lite0",
                                                                   "tensorflow|mobilenet_v2"]


def test_unknown_key_is_rejected(tmp_path):
    settings = base_settings()
    settings["tasks"][0]["training"]["epochz"] = 3

    with pytest.raises(ConfigError, match=r"tasks\.0\.training\.epochz: Extra inputs are not permitted"):
        load_settings(write(tmp_path, settings))


def test_wrong_type_is_rejected(tmp_path):
    settings = base_settings()
    settings["tasks"][0]["training"]["learning_rate"] = "fast"

    with pytest.raises(ConfigError, match=r"tasks\.0\.training\.learning_rate: .*got 'fast'"):
        load_settings(write(tmp_path, settings))


def test_model_override_is_validated(tmp_path):
    settings = base_settings()
    settings["tasks"][0]["models"][0]["training"] = {"epochs": 0}

    with pytest.raises(ConfigError, match="epochs"):
        load_settings(write(tmp_path, settings))


def test_model_override_applies_to_one_model(tmp_path):
    settings = base_settings()
    settings["tasks"][0]["models"][0]["training"] = {"learning_rate": 0.01}

    task = load_settings(write(tmp_path, settings)).tasks[0]

    assert task.training_for("pytorch", "mobilenet_v2").learning_rate == 0.01
    assert task.training_for("pytorch", "efficientnet_lite0").learning_rate == 0.001


def test_missing_file_names_path(tmp_path):
    with pytest.raises(ConfigError, match="settings file not found"):
        load_settings(tmp_path / "absent.yaml")


def test_project_text_task_loads():
    task = load_settings(REPO_ROOT / "configs" / "pipeline.yaml").task("reviews")

    assert task.use_case == "text_classification"
    assert task.int8_variant == "int8_dynamic"
    assert task.training_for("pytorch", "minilm_l6").max_length == 64


def test_text_task_rejects_static_int8(tmp_path):
    settings = base_settings()
    settings["tasks"][1]["quantization"] = {"approach": "static"}

    with pytest.raises(ConfigError, match="text_classification tasks quantize with approach 'dynamic'"):
        load_settings(write(tmp_path, settings))


def test_image_task_rejects_dynamic_variant(tmp_path):
    settings = base_settings()
    settings["tasks"][0]["benchmark"]["variants"] = ["fp32_eager", "int8_dynamic"]

    with pytest.raises(ConfigError, match="benchmark variant 'int8_dynamic' does not apply"):
        load_settings(write(tmp_path, settings))
