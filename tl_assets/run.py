"""Materialize the whole asset graph against the persistent Dagster instance, then print the leaderboards.

Usage: `DAGSTER_HOME=$PWD/.dagster python -m tl_assets.run [--config configs/pipeline.yaml]`.
Each partition runs as its own Dagster run, in this process, and is recorded in `$DAGSTER_HOME`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

import dagster as dg

from tl_assets.definitions import build_definitions
from tl_engine.errors import TLError
from tl_engine.pipeline import data_steps
from tl_engine.pipeline.config import load_settings
from tl_engine.pipeline.report_steps import LEADERBOARD_COLUMNS, markdown_table
from tl_engine.store import ArtifactStore, read_metadata

logger = logging.getLogger("tl_assets.run")

MODEL_STEPS = ["features", "finetuned_model", "evaluation", "quantized_model", "benchmark_report"]


def materialize_task(defs: dg.Definitions, instance: dg.DagsterInstance, task) -> None:
    """Run every asset of one task in dependency order, one run per partition."""
    assets = list(defs.assets)
    resources = defs.resources

    def run(names: list[str], partition_key: str | None = None) -> None:
        selection = [dg.AssetKey([task.name, name]) for name in names]
        label = f"{', '.join(names)}" + (f" [{partition_key}]" if partition_key else "")
        logger.info("Materializing %s/%s", task.name, label)
        dg.materialize(assets, selection=selection, partition_key=partition_key, instance=instance,
                       resources=resources, tags={"tl/task": task.name})

    for day in data_steps.landed_days(task):
        run(["raw_drop"], day)
    run(["dataset", "splits"])
    for entry in task.models:
        run(MODEL_STEPS, entry.partition_key)
    run(["leaderboard"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="pipeline settings file (default: configs/pipeline.yaml)")
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
    try:
        settings = load_settings(args.config)
        defs = build_definitions(args.config)
        with dg.DagsterInstance.get() as instance:
            for task in settings.tasks:
                materialize_task(defs, instance, task)
    except TLError as exc:
        logger.error("%s", exc)
        return 1
    store = ArtifactStore(settings.artifact_dir)
    for task in settings.tasks:
        rows = read_metadata(store.require_latest("leaderboard", task.name))["rows"]
        sys.stdout.write(f"\nLeaderboard of task {task.name} (accuracy on the test split, throughput in "
                         f"images/s, latency in ms):\n{markdown_table(rows, LEADERBOARD_COLUMNS)}")
    sys.stdout.write(f"\nPipeline finished in {time.perf_counter() - started:.0f} s.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
