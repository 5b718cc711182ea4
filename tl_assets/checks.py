"""Blocking quality checks: a weak model is not quantized, and a lossy INT8 model is not benchmarked."""

import dagster as dg

from tl_assets.resources import PipelineResource
from tl_engine.pipeline.report_steps import markdown_table
from tl_engine.pipeline.status import plan_task

TEST_ACCURACY_CHECK = "test_accuracy_floor"
INT8_DROP_CHECK = "int8_accuracy_drop"


def test_accuracy_spec(asset: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(TEST_ACCURACY_CHECK, asset=asset, blocking=True,
                             description="Test accuracy is at least quality.min_test_accuracy.")


def int8_drop_spec(asset: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(INT8_DROP_CHECK, asset=asset, blocking=True,
                             description="INT8 test accuracy is at most quality.max_int8_accuracy_drop below FP32.")


def test_accuracy_check(accuracy: float, floor: float) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name=TEST_ACCURACY_CHECK, passed=accuracy >= floor,
                               metadata={"test_accuracy": accuracy, "min_test_accuracy": floor})


def int8_drop_check(drop: float | None, margin: float) -> dg.AssetCheckResult:
    passed = drop is not None and drop <= margin
    return dg.AssetCheckResult(check_name=INT8_DROP_CHECK, passed=passed,
                               metadata={"accuracy_drop": drop if drop is not None else "unknown",
                                         "max_int8_accuracy_drop": margin})


def pipeline_status_check(task_name: str, leaderboard: dg.AssetKey) -> dg.AssetChecksDefinition:
    """Build a check that lists the task's out-of-date asset partitions and why, failing while any is stale.

    It runs with every leaderboard materialization and can be executed on its own from the UI.
    """

    @dg.asset_check(asset=leaderboard, name="pipeline_up_to_date", blocking=False,
                    description="Every asset partition of the task matches its current inputs.")
    def check(pipeline: PipelineResource) -> dg.AssetCheckResult:
        settings = pipeline.settings().task(task_name)
        stale = [status for status in plan_task(settings, pipeline.store()) if status.stale]
        rows = [{"asset": s.asset, "partition": s.partition or "", "state": s.state, "reasons": "; ".join(s.reasons)}
                for s in stale]
        metadata = {"stale_partitions": len(rows)}
        if rows:
            metadata["out_of_date"] = dg.MetadataValue.md(markdown_table(rows, ["asset", "partition", "state",
                                                                               "reasons"]))
        return dg.AssetCheckResult(passed=not rows, metadata=metadata)

    return check
