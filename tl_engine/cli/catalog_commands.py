"""`tl list`: what the catalog offers (models, frameworks, use cases, datasets)."""

from __future__ import annotations

import click

from tl_engine.catalog import FRAMEWORKS, USE_CASES
from tl_engine.cli.app import main, output_options
from tl_engine.cli.tables import echo_rows

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@main.group("list")
def list_group() -> None:
    """List the models, frameworks, use cases and catalog datasets tl supports."""


@list_group.command("models")
@click.option("--framework", type=click.Choice(FRAMEWORKS), default=None, help="Only models of this framework.")
@click.option("--use-case", type=click.Choice(USE_CASES), default=None, help="Only models for this use case.")
@json_option
@output_options
def list_models(framework: str | None, use_case: str | None, as_json: bool) -> None:
    """List pretrained models: hub, hub id, input size, parameters, and whether weights are cached offline."""
    from tl_engine.catalog import weights_available
    from tl_engine.model_factory import list_models as catalog_models

    rows = [{"name": entry.name, "framework": entry.framework, "use_case": entry.use_case, "hub": entry.hub,
             "hub_id": entry.hub_id, "input_size": entry.input_size, "parameters": entry.parameters,
             "offline": weights_available(entry)}
            for entry in sorted(catalog_models(framework, use_case),
                                key=lambda entry: (entry.use_case, entry.framework, entry.name))]
    if not rows:
        click.echo(f"No catalog model for framework {framework or 'any'} and use case {use_case or 'any'} yet.",
                   err=True)
        return
    echo_rows(rows, ["name", "framework", "use_case", "hub", "hub_id", "input_size", "parameters", "offline"],
              as_json)


@list_group.command("frameworks")
@json_option
@output_options
def list_frameworks(as_json: bool) -> None:
    """List the frameworks and how many catalog models each has."""
    from tl_engine.model_factory import list_models as catalog_models

    rows = [{"framework": name, "models": len(catalog_models(framework=name))} for name in FRAMEWORKS]
    echo_rows(rows, ["framework", "models"], as_json)


@list_group.command("use-cases")
@json_option
@output_options
def list_use_cases(as_json: bool) -> None:
    """List the use cases and how many catalog models each has."""
    from tl_engine.model_factory import list_models as catalog_models

    rows = [{"use_case": name, "models": len(catalog_models(use_case=name))} for name in USE_CASES]
    echo_rows(rows, ["use_case", "models"], as_json)


@list_group.command("datasets")
@click.option("--use-case", type=click.Choice(USE_CASES), default=None, help="Only datasets for this use case.")
@json_option
@output_options
def list_datasets(use_case: str | None, as_json: bool) -> None:
    """List the public catalog datasets that `get_dataset` fetches (a network is needed to download them)."""
    from tl_engine.dataset_factory import list_datasets as catalog_datasets

    rows = [row for row in catalog_datasets() if use_case is None or row["use_case"] == use_case]
    echo_rows(rows, ["catalog", "name", "use_case"], as_json)
