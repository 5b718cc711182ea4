"""`tl setup` and `tl pipeline`: the demo data, the offline caches and the asset graph."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tl_engine.cli.app import main
@main.command("setup")
@click.option("--fashion-mnist", "fashion_mnist", type=click.Path(path_type=Path), default=Path(".cache/debian/fashion-mnist"),
              show_default=True, help="Where Debian's dataset-fashion-mnist package is unpacked.")
@click.option("--landing-dir", type=click.Path(path_type=Path), default=Path("data/landing/fashion"),
              show_default=True, help="Landing folder that receives the demo's daily drops.")
@click.option("--samples", type=int, default=8000, show_default=True, help="Demo images in all, over the days.")
@click.option("--reviews-landing-dir", type=click.Path(path_type=Path), default=Path("data/landing/reviews"),
              show_default=True, help="Landing folder that receives the text demo's daily review files.")
@click.option("--reviews", type=int, default=2400, show_default=True,
              help="Rotten Tomatoes review snippets in all, over the days.")
@click.option("--day", "days", multiple=True, default=["2026-11-01", "2026-11-02", "2026-11-03"],
              show_default=True, help="Landing days to write (repeat the option).")
def setup(fashion_mnist: Path, landing_dir: Path, samples: int, reviews_landing_dir: Path, reviews: int,
          days: tuple[str, ...]) -> None:
    """Seed the model caches from the installed weight packages and write the demos' daily drops."""
    from tl_engine.demo_data import write_landing_drops
    from tl_engine.demo_text_data import write_review_drops
    from tl_engine.models.tf_converted import seed_tfhub_cache
    from tl_engine.offline import seed_huggingface_cache, seed_torch_hub_cache

    # The TensorFlow Hub model is converted from the torchvision file that the first step places.
    for seed_cache in (seed_torch_hub_cache, seed_huggingface_cache, seed_tfhub_cache):
        for path in seed_cache():
            click.echo(f"weights ready: {path}")
    written = write_landing_drops(fashion_mnist, landing_dir, list(days), samples)
    for day, count in written.items():
        click.echo(f"{landing_dir / day}: " + (f"{count} images written" if count else "already there, kept"))
    written = write_review_drops(reviews_landing_dir, list(days), reviews)
    for day, count in written.items():
        click.echo(f"{reviews_landing_dir / day}: " + (f"{count} reviews written" if count else "already there, kept"))


@main.group("pipeline")
def pipeline_group() -> None:
    """Inspect and run the asset graph of configs/pipeline.yaml."""


@pipeline_group.command("status")
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="Pipeline settings file (default: $TL_PIPELINE_CONFIG, then configs/pipeline.yaml).")
@click.option("--all", "show_all", is_flag=True, help="List up-to-date partitions too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def pipeline_status(config: Path | None, show_all: bool, as_json: bool) -> None:
    """List the asset partitions that are out of date, and why."""
    from tl_engine.pipeline.config import load_settings
    from tl_engine.pipeline.status import plan_task
    from tl_engine.store import ArtifactStore

    settings = load_settings(config)
    store = ArtifactStore(settings.artifact_dir)
    rows = []
    for task in settings.tasks:
        for status in plan_task(task, store):
            if show_all or status.stale:
                rows.append({"task": task.name, "asset": status.asset, "partition": status.partition,
                             "state": status.state, "reasons": status.reasons})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("Everything is up to date.")
        return
    for row in rows:
        partition = f"[{row['partition']}]" if row["partition"] else ""
        reasons = "; ".join(row["reasons"])
        click.echo(f"{row['task']}/{row['asset']}{partition}: {row['state']}" + (f" ({reasons})" if reasons else ""))


@pipeline_group.command("run")
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="Pipeline settings file (default: $TL_PIPELINE_CONFIG, then configs/pipeline.yaml).")
@click.option("--all", "everything", is_flag=True, help="Run every partition, not only the out-of-date ones.")
def pipeline_run(config: Path | None, everything: bool) -> None:
    """Materialize the out-of-date partitions through Dagster, recorded in $DAGSTER_HOME."""
    import os
    import subprocess

    if not os.environ.get("DAGSTER_HOME"):
        raise click.UsageError("DAGSTER_HOME is not set, so the runs would not be kept. "
                               "Set it, for example: export DAGSTER_HOME=$PWD/.dagster")
    # The Dagster side lives in tl_assets; this package never imports Dagster itself.
    command = [sys.executable, "-m", "tl_assets.run"]
    if config:
        command += ["--config", str(config)]
    if everything:
        command.append("--all")
    sys.exit(subprocess.call(command))
