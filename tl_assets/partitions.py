"""Every partition definition of the graph, and the helpers that turn partition keys into values."""

from __future__ import annotations

import dagster as dg

from tl_engine.pipeline.config import TaskSettings


def daily_partitions(task: TaskSettings) -> dg.DailyPartitionsDefinition:
    """Return one partition per landing day of the task, from its configured start date."""
    # end_offset=1 makes today a partition too, so a drop is processed on the day it lands.
    return dg.DailyPartitionsDefinition(start_date=task.start_date.isoformat(), end_offset=1)


def dimension_names(task: TaskSettings) -> dict[str, str]:
    """Name the dynamic partition sets of the task's `framework` and `model` dimensions."""
    return {"framework": f"{task.name}_frameworks", "model": f"{task.name}_models"}


def model_partitions(task: TaskSettings) -> dg.MultiPartitionsDefinition:
    """Return framework x model partitions; keys read `framework|model` because Dagster sorts dimension names.

    Both dimensions are dynamic: their keys live in the Dagster instance, so a model added to the
    settings file becomes a partition at the next `tl pipeline run` or sensor tick, with no reload.
    """
    return dg.MultiPartitionsDefinition({dimension: dg.DynamicPartitionsDefinition(name=name)
                                         for dimension, name in dimension_names(task).items()})


def unregistered_partitions(task: TaskSettings, instance: dg.DagsterInstance) -> dict[str, list[str]]:
    """Map each dynamic partition set of the task to the configured keys that the instance lacks."""
    configured = {"framework": {entry.framework for entry in task.models},
                  "model": {entry.model for entry in task.models}}
    missing = {}
    for dimension, name in dimension_names(task).items():
        keys = sorted(configured[dimension] - set(instance.get_dynamic_partitions(name)))
        if keys:
            missing[name] = keys
    return missing


def register_partitions(task: TaskSettings, instance: dg.DagsterInstance) -> list[str]:
    """Add the task's configured frameworks and models to the instance; return the keys added."""
    missing = unregistered_partitions(task, instance)
    for name, keys in missing.items():
        instance.add_dynamic_partitions(name, keys)
    return [key for keys in missing.values() for key in keys]


def framework_and_model(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """Read (framework, model) from the run's multi-partition key."""
    keys = context.partition_key.keys_by_dimension
    return keys["framework"], keys["model"]
