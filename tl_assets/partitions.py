"""Every partition definition of the graph, and the helpers that turn partition keys into values."""

from __future__ import annotations

import dagster as dg

from tl_engine.pipeline.config import TaskSettings


def daily_partitions(task: TaskSettings) -> dg.DailyPartitionsDefinition:
    """Return one partition per landing day of the task, from its configured start date."""
    # end_offset=1 makes today a partition too, so a drop is processed on the day it lands.
    return dg.DailyPartitionsDefinition(start_date=task.start_date.isoformat(), end_offset=1)


# NOTE: the model dimension is read from the settings file when the code location loads, so a model
# added to pipeline.yaml appears in a running UI only after "Reload definitions".
def model_partitions(task: TaskSettings) -> dg.MultiPartitionsDefinition:
    """Return framework x model partitions; keys read `framework|model` because Dagster sorts dimension names."""
    frameworks = sorted({entry.framework for entry in task.models})
    models = sorted({entry.model for entry in task.models})
    return dg.MultiPartitionsDefinition({
        "framework": dg.StaticPartitionsDefinition(frameworks),
        "model": dg.StaticPartitionsDefinition(models),
    })


def framework_and_model(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """Read (framework, model) from the run's multi-partition key."""
    keys = context.partition_key.keys_by_dimension
    return keys["framework"], keys["model"]
