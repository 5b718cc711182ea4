"""The `tl` command line. Commands live in one module per area and register on the `main` group."""

from tl_engine.cli.app import main
from tl_engine.cli import catalog_commands, model_commands, deploy_commands, pipeline_commands  # noqa: F401

__all__ = ["main"]
