"""The Dagster code location: one asset group per task of the pipeline settings."""

from __future__ import annotations

import dagster as dg

from tl_assets.assets import build_task_assets
from tl_assets.checks import pipeline_status_check
from tl_assets.resources import PipelineResource
from tl_assets.sensors import landing_sensor, model_sensor, retrain_sensor
from tl_engine.pipeline.config import load_settings


def build_definitions(config_path: str | None = None) -> dg.Definitions:
    """Build the definitions for a settings file (default: `$TL_PIPELINE_CONFIG`, then `configs/pipeline.yaml`)."""
    settings = load_settings(config_path)
    assets = [asset for task in settings.tasks for asset in build_task_assets(task)]
    checks = [pipeline_status_check(task.name, dg.AssetKey([task.name, "leaderboard"])) for task in settings.tasks]
    sensors = [sensor for task in settings.tasks
               for sensor in (landing_sensor(task), retrain_sensor(task), model_sensor(task))]
    return dg.Definitions(assets=assets, asset_checks=checks, sensors=sensors,
                          resources={"pipeline": PipelineResource(config_path=config_path or "")})


defs = build_definitions()
