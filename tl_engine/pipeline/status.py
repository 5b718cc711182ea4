"""Staleness: the fingerprint each step would have now, compared with the one built last.

The planner walks the graph from the landed files down, computing every step's inputs from its
upstream steps' expected fingerprints. A step is stale when its expected fingerprint differs from
the artifact built last; the reasons name the inputs that changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tl_engine.errors import TLError
from tl_engine.pipeline import fingerprints
from tl_engine.pipeline.config import TaskSettings
from tl_engine.pipeline.data_steps import day_folder, landed_days
from tl_engine.store import ArtifactStore, fingerprint, read_metadata

MODEL_STEPS = ("features", "finetuned_model", "evaluation", "quantized_model", "benchmark_report")


@dataclass
class StepStatus:
    """The state of one asset partition: up to date, stale (with reasons) or never built."""

    asset: str
    partition: str | None
    expected: str
    built: str | None
    reasons: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return self.expected != self.built

    @property
    def state(self) -> str:
        if self.built is None:
            return "missing"
        return "stale" if self.stale else "up to date"


def _short(value) -> str:
    return value[:8] if isinstance(value, str) and len(value) == 16 else repr(value)


def explain_change(old: dict | None, new: dict) -> list[str]:
    """Name the inputs that differ between the recorded inputs `old` and the expected inputs `new`."""
    if old is None:
        return ["built before its inputs were recorded"]
    reasons = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key == "code":
            reasons.append(f"code version changed ({before} -> {after})")
        elif isinstance(before, dict) and isinstance(after, dict):
            for sub in sorted(set(before) | set(after)):
                if before.get(sub) != after.get(sub):
                    if sub not in before:
                        reasons.append(f"{key}: {sub} is new")
                    elif sub not in after:
                        reasons.append(f"{key}: {sub} was removed")
                    else:
                        reasons.append(f"{key}: {sub} changed ({_short(before[sub])} -> {_short(after[sub])})")
        else:
            reasons.append(f"{key} changed ({_short(before)} -> {_short(after)})")
    return reasons


def _status(store: ArtifactStore, asset: str, engine_partition: str, partition: str | None,
            inputs: dict) -> StepStatus:
    expected = fingerprint(inputs)
    latest = store.latest(asset, engine_partition)
    if latest is None:
        return StepStatus(asset, partition, expected, None, ["never built"])
    if latest.name == expected:
        return StepStatus(asset, partition, expected, expected)
    recorded = read_metadata(latest).get("inputs")
    return StepStatus(asset, partition, expected, latest.name, explain_change(recorded, inputs))


def plan_task(task: TaskSettings, store: ArtifactStore) -> list[StepStatus]:
    """Return the status of every asset partition of one task, upstream first."""
    statuses: list[StepStatus] = []
    raw_drops = {}
    for day in landed_days(task):
        rows, _ = fingerprints.scan_day(task, day_folder(task, day), day)
        status = _status(store, "raw_drop", f"{task.name}/{day}", day, fingerprints.raw_drop_inputs(rows))
        statuses.append(status)
        raw_drops[day] = status.expected
    if not raw_drops:
        raise TLError(f"No complete day folder in {task.landing_dir}; nothing to plan.")
    dataset = _status(store, "dataset", task.name, None, fingerprints.dataset_inputs(raw_drops))
    splits = _status(store, "splits", task.name, None, fingerprints.splits_inputs(task, dataset.expected))
    statuses += [dataset, splits]
    reports = {}
    for entry in task.models:
        key, engine_partition = entry.partition_key, f"{task.name}/{entry.framework}/{entry.model}"

        def add(asset: str, inputs: dict) -> StepStatus:
            status = _status(store, asset, engine_partition, key, inputs)
            statuses.append(status)
            return status

        features = add("features", fingerprints.features_inputs(task, entry.framework, entry.model, splits.expected))
        model = add("finetuned_model", fingerprints.finetuned_model_inputs(
            task, entry.framework, entry.model, features.expected, splits.expected))
        add("evaluation", fingerprints.evaluation_inputs(model.expected, splits.expected))
        int8 = add("quantized_model", fingerprints.quantized_model_inputs(task, entry.framework, model.expected))
        report = add("benchmark_report", fingerprints.benchmark_report_inputs(task, entry.framework, model.expected, int8.expected))
        reports[key] = report.expected
    statuses.append(_status(store, "leaderboard", task.name, None, fingerprints.leaderboard_inputs(reports)))
    return statuses


def stale_steps(task: TaskSettings, store: ArtifactStore) -> list[StepStatus]:
    """Return only the asset partitions that a run would build."""
    return [status for status in plan_task(task, store) if status.stale]
