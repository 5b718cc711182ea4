"""The `tl` command line, run through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from tl_engine.cli import main


def test_list_models_shows_hub_ids():
    result = CliRunner().invoke(main, ["list", "models", "--framework", "pytorch"])

    assert result.exit_code == 0
    assert "MobileNet_V2_Weights.IMAGENET1K_V1" in result.output
    assert "efficientnet-lite0" in result.output


def test_list_models_json_filters_use_case():
    result = CliRunner().invoke(main, ["list", "models", "--use_case", "image_classification", "--json"])

    rows = json.loads(result.output)
    assert result.exit_code == 0
    assert {row["use_case"] for row in rows} == {"image_classification"}
    assert any(row["name"] == "resnet50" for row in rows)


def test_unknown_framework_is_usage_error():
    result = CliRunner().invoke(main, ["list", "models", "--framework", "jax"])

    assert result.exit_code == 2
    assert "'jax' is not one of 'pytorch', 'tensorflow'" in result.output


def test_list_models_marks_offline_weights(torch_hub_cache):
    result = CliRunner().invoke(main, ["list", "models", "--json"])

    rows = {(row["framework"], row["name"]): row for row in json.loads(result.output)}
    assert rows["pytorch", "mobilenet_v2"]["offline"] is True
    assert rows["pytorch", "mobilenet_v2"]["parameters"] == 3504872
    assert rows["pytorch", "mobilenet_v2"]["input_size"] == 224
    assert rows["pytorch", "mobilenet_v2"]["hub"] == "torchvision"
    assert rows["tensorflow", "mobilenet_v2"]["hub"] == "tfhub"


def test_list_frameworks_use_cases_datasets():
    runner = CliRunner()

    frameworks = runner.invoke(main, ["list", "frameworks"])
    use_cases = runner.invoke(main, ["list", "use_cases", "--json"])
    datasets = runner.invoke(main, ["list", "datasets", "--use-case", "image_classification"])

    assert frameworks.exit_code == 0
    assert frameworks.output.splitlines()[0].split() == ["framework", "models"]
    assert {row["use_case"] for row in json.loads(use_cases.output)} == {"image_classification",
                                                                       "text_classification"}
    assert "FashionMNIST" in datasets.output


def test_every_command_has_help():
    commands = [[], ["list", "models"], ["train"], ["eval"], ["predict"], ["quantize"], ["benchmark"],
                ["export"], ["setup"], ["pipeline", "status"], ["pipeline", "run"]]

    for command in commands:
        result = CliRunner().invoke(main, command + ["--help"])
        assert result.exit_code == 0, command
        assert "Usage: " in result.output, command


def test_help_imports_no_framework():
    code = ("import sys; from tl_engine.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'tensorflow', 'dagster', 'transformers') if m in sys.modules))")

    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert completed.stdout.strip().splitlines()[-1] == "[]"
