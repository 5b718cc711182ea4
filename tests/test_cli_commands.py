"""Every model command of `tl` on a real tiny model and real images, with the bad inputs users type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from tl_engine.cli import main
from tl_engine.store import read_metadata

TRAIN = ["train", "--model-name", "mobilenet_v2", "--epochs", "2", "--image-size", "32", "--batch-size", "16"]


def tl(*args) -> Result:
    """Run `tl ARGS...` quietly in this process and return click's result."""
    return CliRunner().invoke(main, ["--quiet", *map(str, args)])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, flat_dataset_dir, torch_hub_cache) -> Path:
    """A MobileNetV2 trained by `tl train` on the flat tiny dataset, with options spelled with underscores."""
    output = tmp_path_factory.mktemp("cli") / "fp32"
    result = tl("train", "--model_name", "mobilenet_v2", "--dataset_dir", flat_dataset_dir, "--output_dir", output,
                "--epochs", 2, "--image_size", 32, "--batch_size", 16)
    assert result.exit_code == 0, result.output
    return output


@pytest.fixture(scope="module")
def quantized(trained, flat_dataset_dir) -> Path:
    output = trained.with_name("int8")
    result = tl("quantize", "--model-dir", trained, "--dataset-dir", flat_dataset_dir, "--output-dir", output,
                "--calibration-samples", 16)
    assert result.exit_code == 0, result.output
    return output


def test_train_records_test_evaluation(trained):
    metadata = read_metadata(trained)

    assert metadata["class_names"] == ["coat", "sandal", "trouser"]
    assert metadata["evaluation"]["subset"] == "test"
    assert metadata["evaluation"]["samples"] == 11  # 15 % of 20, 25 and 30 images, rounded per class
    assert metadata["training"]["epochs"] == 2
    assert metadata["preprocessing"]["input_size"] == 32


def test_command_line_beats_config_file(tmp_path, flat_dataset_dir, torch_hub_cache):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"model-name": "mobilenet_v2", "dataset_dir": str(flat_dataset_dir),
                                      "epochs": 1, "learning_rate": 0.01, "image_size": 32}))

    result = tl("train", "--config", config, "--epochs", 2, "--output-dir", tmp_path / "out")

    assert result.exit_code == 0, result.output
    training = read_metadata(tmp_path / "out")["training"]
    assert training["epochs"] == 2
    assert training["learning_rate"] == 0.01


def test_eval_prints_accuracy_and_classes(trained, flat_dataset_dir):
    result = tl("eval", "--model-dir", trained, "--dataset-dir", flat_dataset_dir, "--json")

    report = json.loads(result.output)
    assert result.exit_code == 0
    assert report["samples"] == 75
    assert set(report["per_class"]) == {"coat", "sandal", "trouser"}
    assert 0.0 <= report["accuracy"] <= 1.0


def test_predict_expands_folders_with_top_k(trained, flat_dataset_dir):
    image = sorted((flat_dataset_dir / "coat").iterdir())[0]

    result = tl("predict", "--model-dir", trained, image, flat_dataset_dir / "sandal", "--top-k", 2, "--json")

    rows = json.loads(result.output)
    assert result.exit_code == 0
    assert len(rows) == 1 + 25
    assert rows[0]["input"] == str(image)
    assert [entry["class_name"] for entry in rows[0]["top_k"]][0] == rows[0]["class_name"]
    assert len(rows[0]["top_k"]) == 2


def test_predict_table_names_classes(trained, flat_dataset_dir):
    result = tl("predict", "--model-dir", trained, flat_dataset_dir / "trouser")

    header, first = result.output.splitlines()[:2]
    assert header.split() == ["input", "class_name", "probability"]
    assert first.split()[1] in {"coat", "sandal", "trouser"}


def test_quantize_writes_int8_model(quantized):
    metadata = read_metadata(quantized)

    assert metadata["format"] == "torch_export_int8"
    assert metadata["quantization"]["calibration_samples"] == 16


def test_benchmark_compares_fp32_and_int8(trained, quantized):
    result = tl("benchmark", "--model-dir", trained, "--int8-model-dir", quantized, "--batch-size", 4,
                "--iterations", 2, "--warmup", 1, "--threads", 2, "--json")

    rows = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert [row["variant"] for row in rows] == ["fp32_compiled", "int8_compiled"]
    assert all(row["threads"] == 2 for row in rows)
    assert all(row["throughput_per_s"] > 0 for row in rows)
    assert rows[0]["vs_fp32_compiled"] == 1.0


def test_export_onnx_matches_pytorch(trained):
    result = tl("export", "--model-dir", trained, "--format", "onnx")

    output = trained.with_name("fp32-onnx")
    metadata = read_metadata(output)
    assert result.exit_code == 0, result.output
    assert (output / "model.onnx").is_file()
    assert metadata["onnx"]["max_relative_difference"] <= 1e-4
    assert metadata["class_names"] == ["coat", "sandal", "trouser"]


@pytest.fixture(scope="module")
def foreign_model(tmp_path_factory) -> Path:
    """A model folder whose metadata names another framework."""
    folder = tmp_path_factory.mktemp("foreign")
    (folder / "tl_metadata.json").write_text(json.dumps({"model_name": "mobilenet_v2", "framework": "jax",
                                                         "use_case": "image_classification",
                                                         "format": "flax_msgpack"}))
    return folder


def bad_inputs(trained: Path, quantized: Path, foreign: Path, flat: Path, other: Path, blocked: Path,
               corrupt: Path):
    """(command line, exit code, text the message must contain) for each bad input of each command."""
    missing = "/no/such/folder"
    train = [*TRAIN, "--dataset-dir", flat]
    return [
        (["train", "--dataset-dir", flat, "--output-dir", blocked / "x"], 2, "Missing option '--model-name'"),
        ([*TRAIN, "--dataset-dir", missing, "--output-dir", blocked / "x"], 2, f"'{missing}' does not exist"),
        ([*train, "--model-name", "mobilenet_v3", "--output-dir", blocked.parent / "a"], 2,
         "Close matches: mobilenet_v2"),
        ([*train, "--model-name", "efficientnet_lite0", "--framework", "tensorflow", "--output-dir",
          blocked.parent / "b"], 2, "Model 'efficientnet_lite0' is not implemented for framework 'tensorflow'"),
        ([*train, "--output-dir", blocked / "out"], 1, f"{blocked} is a file, not a folder"),
        ([*train, "--output-dir", trained], 1, "already exists and is not empty"),
        ([*train, "--text-column", "review", "--output-dir", blocked.parent / "c"], 2, "apply to text models only"),
        (["eval", "--dataset-dir", flat], 2, "Missing option '--model-dir'"),
        (["eval", "--model-dir", missing, "--dataset-dir", flat], 2, f"'{missing}' does not exist"),
        (["eval", "--model-dir", foreign, "--dataset-dir", flat], 1, "a jax image_classification model"),
        (["eval", "--model-dir", quantized, "--dataset-dir", flat], 1, "contains an INT8 image model (from `tl quantize`"),
        (["eval", "--model-dir", trained, "--dataset-dir", other], 1, "differ from the model's classes"),
        (["predict", "--model-dir", trained], 2, "Missing argument 'INPUT...'"),
        (["predict", "--model-dir", trained, missing], 2, f"'{missing}' does not exist"),
        (["predict", "--model-dir", foreign, flat], 1, "a jax image_classification model"),
        (["quantize", "--model-dir", trained, "--dataset-dir", flat], 2, "Missing option '--output-dir'"),
        (["quantize", "--model-dir", trained, "--output-dir", blocked.parent / "h"], 2,
         "Missing option '--dataset-dir': image models calibrate on real images"),
        (["quantize", "--model-dir", trained, "--dataset-dir", missing, "--output-dir", blocked.parent / "g"], 2,
         f"'{missing}' does not exist"),
        (["quantize", "--model-dir", trained, "--dataset-dir", other, "--output-dir", blocked.parent / "d"], 1,
         "differ from the model's classes"),
        (["quantize", "--model-dir", foreign, "--dataset-dir", flat, "--output-dir", blocked.parent / "e"], 1,
         "a jax image_classification model"),
        (["quantize", "--model-dir", trained, "--dataset-dir", flat, "--output-dir", blocked / "int8"], 1,
         "Cannot write output directory"),
        (["benchmark"], 2, "Missing option '--model-dir'"),
        (["benchmark", "--model-dir", missing], 2, f"'{missing}' does not exist"),
        (["benchmark", "--model-dir", foreign], 2, "contains a model of unknown format 'flax_msgpack'"),
        (["benchmark", "--model-dir", quantized], 2, "--model-dir takes an FP32 model folder written by `tl train`"),
        (["benchmark", "--model-dir", trained, "--int8-model-dir", trained], 2, "--int8-model-dir takes an INT8 model folder written by `tl quantize`"),
        (["predict", "--model-dir", trained, corrupt], 1, "is not a readable image"),
        (["export", "--format", "onnx"], 2, "Missing option '--model-dir'"),
        (["export", "--model-dir", missing], 2, f"'{missing}' does not exist"),
        (["export", "--model-dir", foreign, "--output-dir", blocked.parent / "f"], 2,
         "ONNX export is implemented for PyTorch models only"),
        (["export", "--model-dir", trained, "--output-dir", blocked / "onnx"], 1, "Cannot write output directory"),
        (["export", "--model-dir", trained, "--format", "tflite"], 2, "'tflite' is not 'onnx'"),
        (["train", "--config", missing], 2, f"'{missing}' does not exist"),
    ]


def test_bad_inputs_give_one_clear_message(trained, quantized, foreign_model, flat_dataset_dir, split_dataset_dir,
                                           tmp_path):
    blocked = tmp_path / "a_file"
    blocked.write_text("a file where a folder is expected")
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"not a png")
    cases = bad_inputs(trained, quantized, foreign_model, flat_dataset_dir, split_dataset_dir / "test", blocked,
                       corrupt)

    for args, exit_code, text in cases:
        result = tl(*args)
        assert result.exit_code == exit_code, (args, result.output)
        assert text in result.output, (args, result.output)
        assert "Traceback" not in result.output, args


def test_unknown_config_key_is_named(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("epochs: 2\nepoch: 3\n")

    result = tl("train", "--config", config)

    assert result.exit_code == 2
    assert "sets unknown option 'epoch'. Close matches: epochs" in result.output


def test_debug_shows_traceback(foreign_model, flat_dataset_dir):
    result = CliRunner().invoke(main, ["eval", "--model-dir", str(foreign_model), "--dataset-dir",
                                       str(flat_dataset_dir), "--debug"])

    assert result.exit_code == 1
    assert result.exception is not None
    assert "a jax image_classification model" in str(result.exception)
