"""Materialize the whole asset graph against the persistent Dagster instance, then print the leaderboards.

Usage: `DAGSTER_HOME=$PWD/.dagster python -m tl_assets.run [--config configs/pipeline.yaml]`.
Only out-of-date partitions are run (`--all` runs every one). Each partition group is one Dagster
run, executed in this process and recorded in `$DAGSTER_HOME`. Before that, the task's frameworks and
models are added to the instance's dynamic partitions, and `--add-partitions` does only that.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

import dagster as dg

from tl_assets.definitions import build_definitions
from tl_assets.partitions import register_partitions
from tl_engine.errors import TLError
from tl_engine.pipeline import data_steps
from tl_engine.pipeline.config import load_settings
from tl_engine.pipeline.report_steps import LEADERBOARD_COLUMNS, markdown_table
from tl_engine.pipeline.status import MODEL_STEPS, plan_task
from tl_engine.store import ArtifactStore, read_metadata

logger = logging.getLogger("tl_assets.run")


def materialize_task(defs: dg.Definitions, instance: dg.DagsterInstance, task, everything: bool = False) -> list[str]:
    """Run the out-of-date asset partitions of one task (all of them with `everything`), upstream first.

    Returns one label per Dagster run launched, for example `features, finetuned_model [pytorch|mobilenet_v2]`.
    A failed run (an error, or a blocking check) does not stop the others; once every partition was
    tried, TLError lists the failed runs.
    """
    assets = list(defs.assets) + list(defs.asset_checks)
    store = ArtifactStore(load_settings_for(defs).artifact_dir)
    statuses = plan_task(task, store)
    selected = {(status.asset, status.partition) for status in statuses if everything or status.stale}
    for status in statuses:
        if status.stale:
            logger.info("Out of date: %s[%s]: %s", status.asset, status.partition or "", "; ".join(status.reasons))
    added = register_partitions(task, instance)
    if added:
        logger.info("Added partitions to task %s: %s", task.name, ", ".join(added))
    launched, failed = [], []

    def run(names: list[str], partition_key: str | None = None) -> None:
        names = [name for name in names if (name, partition_key) in selected]
        if not names:
            return
        selection = [dg.AssetKey([task.name, name]) for name in names]
        label = ", ".join(names) + (f" [{partition_key}]" if partition_key else "")
        logger.info("Materializing %s/%s", task.name, label)
        result = dg.materialize(assets, selection=selection, partition_key=partition_key, instance=instance,
                                resources=defs.resources, tags={"tl/task": task.name}, raise_on_error=False)
        launched.append(label)
        if not result.success:
            failed.append(f"{label} (run {result.run_id})")
            logger.error("Run failed: %s/%s, Dagster run %s. The other partitions go on.", task.name, label,
                         result.run_id)

    for day in data_steps.landed_days(task):
        run(["raw_drop"], day)
    run(["dataset", "splits"])
    for entry in task.models:
        run(list(MODEL_STEPS), entry.partition_key)
    run(["leaderboard"])
    if failed:
        raise TLError(f"Task {task.name}: {len(failed)} of {len(launched)} runs failed: {'; '.join(failed)}. "
                      "The error of each run is logged above and in the Dagster UI.")
    if not launched:
        logger.info("Task %s is up to date: nothing to materialize.", task.name)
    return launched


def load_settings_for(defs: dg.Definitions):
    """Return the pipeline settings that `defs` was built from."""
    return defs.resources["pipeline"].settings()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="pipeline settings file (default: configs/pipeline.yaml)")
    parser.add_argument("--all", dest="everything", action="store_true",
                        help="materialize every partition, not only the out-of-date ones (built steps are reused)")
    parser.add_argument("--add-partitions", action="store_true",
                        help="add the configured frameworks and models as partitions of the instance, then exit")
    args = parser.parse_args(argv)
    # Engine log lines reach the console through Dagster (configs/dagster.yaml lists tl_engine under
    # managed_python_loggers), so only this module's own logger gets a handler here.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    if not os.environ.get("DAGSTER_HOME"):
        logger.error("DAGSTER_HOME is not set, so the runs would vanish. Set it, for example to $PWD/.dagster.")
        return 2
    started = time.perf_counter()
    errors = []
    try:
        settings = load_settings(args.config)
        defs = build_definitions(args.config)
        with dg.DagsterInstance.get() as instance:
            for task in settings.tasks:
                if args.add_partitions:
                    added = register_partitions(task, instance)
                    logger.info("Task %s: %s", task.name,
                                f"added partitions {', '.join(added)}" if added else "no new partition")
                    continue
                try:
                    materialize_task(defs, instance, task, args.everything)
                except TLError as exc:
                    # One task's failure does not keep the other tasks from running.
                    logger.error("%s", exc)
                    errors.append(str(exc))
        if args.add_partitions:
            return 0
    except TLError as exc:
        logger.error("%s", exc)
        return 1
    store = ArtifactStore(settings.artifact_dir)
    for task in settings.tasks:
        latest = store.latest("leaderboard", task.name)
        if latest is None:
            continue
        rows = read_metadata(latest)["rows"]
        sys.stdout.write(f"\nLeaderboard of task {task.name} (accuracy on the test split, throughput in "
                         f"samples/s, latency in ms):\n{markdown_table(rows, LEADERBOARD_COLUMNS)}")
    sys.stdout.write(f"\nPipeline finished in {time.perf_counter() - started:.0f} s.\n")
    if errors:
        sys.stdout.write("Failed: " + " ".join(errors) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
