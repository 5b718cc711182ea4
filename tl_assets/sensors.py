"""Sensors: new daily drops trigger their recording and evaluation; models that fell behind are retrained."""

import json
import re
from datetime import date

import dagster as dg

from tl_assets.partitions import unregistered_partitions
from tl_assets.resources import PipelineResource
from tl_engine.errors import TLError
from tl_engine.pipeline import data_steps
from tl_engine.pipeline.config import TaskSettings
from tl_engine.pipeline.status import MODEL_STEPS, plan_task
from tl_engine.store import read_metadata

DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def landing_sensor(task: TaskSettings) -> dg.SensorDefinition:
    """Request `raw_drop[day]` and `daily_evaluation[day]` for each complete day folder that is new or changed.

    A day is complete once it contains `_READY`. The cursor maps each day to a signature of its
    files, so a day that lands late, or is replaced with new content, is requested again. The run
    key includes the signature, so two racing ticks request the same run and Dagster launches it once.
    """
    raw_drop, daily_evaluation = dg.AssetKey([task.name, "raw_drop"]), dg.AssetKey([task.name, "daily_evaluation"])

    @dg.sensor(name=f"{task.name}_landing_sensor", asset_selection=[raw_drop, daily_evaluation],
               minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Watches {task.landing_dir} for complete day folders.")
    def sensor(context: dg.SensorEvaluationContext, pipeline: PipelineResource):
        settings = pipeline.settings().task(task.name)
        seen = json.loads(context.cursor) if context.cursor else {}
        try:
            complete, incomplete = data_steps.pending_days(settings)
        except TLError as exc:
            return dg.SkipReason(str(exc))
        requests, notes = [], []
        for day in incomplete:
            notes.append(f"{day} has no {data_steps.READY_MARKER} yet")
        for day in complete:
            if not DAY_FOLDER.match(day) or date.fromisoformat(day) < settings.start_date:
                notes.append(f"{day} is not a day on or after start_date {settings.start_date}")
                continue
            signature = data_steps.day_signature(settings.landing_dir / day)
            if seen.get(day) == signature:
                continue
            requests.append(dg.RunRequest(run_key=f"{task.name}:{day}:{signature}", partition_key=day,
                                          asset_selection=[raw_drop, daily_evaluation], tags={"tl/task": task.name}))
            seen[day] = signature
        for note in notes:
            context.log.info(f"Skipped landing folder {note}.")
        if not requests:
            return dg.SkipReason("No new or changed day folder. " + " ".join(notes))
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))

    return sensor


def retrain_sensor(task: TaskSettings) -> dg.SensorDefinition:
    """Retrain the models that a daily evaluation flagged, on the grown dataset.

    Dagster does not order separate runs, so the sensor works in ticks: first it requests the
    out-of-date `dataset` and `splits`, and only once those are current does it request the
    flagged model's out-of-date steps. The cursor keeps the flagged models until they are retrained.
    """

    @dg.sensor(name=f"{task.name}_retrain_sensor", minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               asset_selection=[dg.AssetKey([task.name, name]) for name in ("dataset", "splits", *MODEL_STEPS)],
               description="Retrains the models that fell behind on a day's new data.")
    def sensor(context: dg.SensorEvaluationContext, pipeline: PipelineResource):
        settings = pipeline.settings()
        task_settings, store = settings.task(task.name), pipeline.store()
        state = json.loads(context.cursor) if context.cursor else {"handled": [], "pending": []}
        for path in sorted((store.root / "daily_evaluation" / task.name).glob("*/LATEST")):
            evaluation = store.latest("daily_evaluation", f"{task.name}/{path.parent.name}")
            if evaluation is None or evaluation.name in state["handled"]:
                continue
            state["handled"].append(evaluation.name)
            flagged = read_metadata(evaluation)["retrain"]
            state["pending"] = sorted(set(state["pending"]) | set(flagged))
        if not state["pending"]:
            return dg.SensorResult(skip_reason="No model was flagged for retraining.", cursor=json.dumps(state))
        stale = {(s.asset, s.partition): s for s in plan_task(task_settings, store) if s.stale}
        data = [name for name in ("dataset", "splits") if (name, None) in stale]
        if data:
            run_key = f"retrain-data:{stale[(data[-1], None)].expected}"
            request = dg.RunRequest(run_key=run_key, asset_selection=[dg.AssetKey([task.name, n]) for n in data])
            return dg.SensorResult(run_requests=[request], cursor=json.dumps(state))
        requests, retrained = [], []
        for key in list(state["pending"]):
            steps = [name for name in MODEL_STEPS if (name, key) in stale]
            if not steps:
                state["pending"].remove(key)
                retrained.append(key)
                continue
            run_key = f"retrain:{key}:{stale[(steps[0], key)].expected}"
            requests.append(dg.RunRequest(run_key=run_key, partition_key=key,
                                          asset_selection=[dg.AssetKey([task.name, n]) for n in steps]))
        if not requests:
            return dg.SensorResult(skip_reason=f"Retrained and current: {', '.join(retrained)}.",
                                   cursor=json.dumps(state))
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(state))

    return sensor


def model_sensor(task: TaskSettings) -> dg.SensorDefinition:
    """Make each model added to the settings a partition, and build it once the task's splits exist.

    The sensor reads the settings file on every tick, so adding a model needs no code change and no
    reload. It builds only models that have never been trained. The retrain sensor and
    `tl pipeline run` rebuild trained models after a data or settings change.
    """

    @dg.sensor(name=f"{task.name}_model_sensor", minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               asset_selection=[dg.AssetKey([task.name, name]) for name in MODEL_STEPS],
               description="Adds the models listed in the settings as partitions and builds the new ones.")
    def sensor(context: dg.SensorEvaluationContext, pipeline: PipelineResource):
        settings, store = pipeline.settings().task(task.name), pipeline.store()
        partitions = [dg.AddDynamicPartitionsRequest(name, keys)
                      for name, keys in unregistered_partitions(settings, context.instance).items()]
        if store.latest("splits", task.name) is None:
            return dg.SensorResult(skip_reason="The task's splits are not built yet; new models wait for them.",
                                   dynamic_partitions_requests=partitions)
        stale = {(s.asset, s.partition): s for s in plan_task(settings, store) if s.stale}
        requests = []
        for entry in settings.models:
            key = entry.partition_key
            if store.latest("finetuned_model", f"{task.name}/{entry.framework}/{entry.model}") is not None:
                continue
            steps = [name for name in MODEL_STEPS if (name, key) in stale]
            requests.append(dg.RunRequest(run_key=f"new-model:{key}:{stale[(steps[0], key)].expected}",
                                          partition_key=key, tags={"tl/task": task.name},
                                          asset_selection=[dg.AssetKey([task.name, n]) for n in steps]))
        if not requests:
            return dg.SensorResult(skip_reason="Every configured model has been trained.",
                                   dynamic_partitions_requests=partitions)
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=partitions)

    return sensor
