"""The `tl` command line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from tl_engine.errors import TLError

logger = logging.getLogger("tl_engine.cli")

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class TLGroup(click.Group):
    """Prints a TLError as one clean line (exit code 1), with the traceback only under --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TLError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=TLGroup, context_settings=CONTEXT_SETTINGS)
@click.option("--verbose", "-v", is_flag=True, help="Log progress at INFO level.")
@click.option("--debug", is_flag=True, help="Log at DEBUG level and show the full traceback of a failure.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, debug: bool) -> None:
    """tl: fine-tune pretrained models on your data, quantize them to INT8 and benchmark them."""
    ctx.obj = {"debug": debug}
    level = logging.WARNING
    if verbose:
        level = logging.INFO
    if debug:
        level = logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@main.group("list")
def list_group() -> None:
    """List what the catalog offers."""


@list_group.command("models")
@click.option("--framework", default=None, help="Only models of this framework (pytorch, tensorflow).")
@click.option("--use-case", "--use_case", "use_case", default=None, help="Only models for this use case.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_models(framework: str | None, use_case: str | None, as_json: bool) -> None:
    """List the supported pretrained models with hub id, input size and parameter count."""
    from tl_engine.model_factory import list_models as catalog_models

    entries = catalog_models(framework, use_case)
    if as_json:
        click.echo(json.dumps([entry.__dict__ for entry in entries], indent=2))
        return
    click.echo(f"{'name':<28} {'framework':<11} {'use case':<22} {'hub id':<44} {'input':>5} {'params':>12}")
    for entry in entries:
        click.echo(f"{entry.name:<28} {entry.framework:<11} {entry.use_case:<22} {entry.hub_id:<44} "
                   f"{entry.input_size:>5} {entry.parameters:>12,}")


@main.command("setup")
@click.option("--fashion-mnist", "fashion_mnist", type=click.Path(path_type=Path), default=Path(".cache/debian/fashion-mnist"),
              show_default=True, help="Where Debian's dataset-fashion-mnist package is unpacked.")
@click.option("--landing-dir", type=click.Path(path_type=Path), default=Path("data/landing/fashion"),
              show_default=True, help="Landing folder that receives the demo's daily drops.")
@click.option("--samples", type=int, default=8000, show_default=True, help="Demo images in all, over the days.")
@click.option("--day", "days", multiple=True, default=["2026-11-01", "2026-11-02", "2026-11-03"],
              show_default=True, help="Landing days to write (repeat the option).")
def setup(fashion_mnist: Path, landing_dir: Path, samples: int, days: tuple[str, ...]) -> None:
    """Seed the model caches from the installed weight packages and write the demo's daily drops."""
    from tl_engine.demo_data import write_landing_drops
    from tl_engine.offline import seed_torch_hub_cache

    for path in seed_torch_hub_cache():
        click.echo(f"weights ready: {path}")
    written = write_landing_drops(fashion_mnist, landing_dir, list(days), samples)
    for day, count in written.items():
        click.echo(f"{landing_dir / day}: " + (f"{count} images written" if count else "already there, kept"))

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


if __name__ == "__main__":
    main()
