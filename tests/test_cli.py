"""The `tl` command line, run through click's CliRunner."""

from __future__ import annotations

import json

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


def test_unknown_framework_exits_with_message():
    result = CliRunner().invoke(main, ["list", "models", "--framework", "jax"])

    assert result.exit_code == 1
    assert "Unknown framework 'jax'. Valid frameworks: pytorch, tensorflow." in result.output
