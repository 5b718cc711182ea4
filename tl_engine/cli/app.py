"""The `tl` command group and what every command shares: error handling, output flags, `--config` files."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from tl_engine.errors import CatalogError, ConfigError, TLError


def _dashes(token: str) -> str:
    # Accept `--model_name` for `--model-name`, and `use_cases` for the `use-cases` command.
    return token.replace("_", "-")


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100,
                    "token_normalize_func": _dashes}
# Errors in what the user typed (an unknown model, framework or setting) exit like click's usage errors.
USAGE_ERRORS = (CatalogError, ConfigError)


class TLGroup(click.Group):
    """Prints a failure as one `Error:` line and exits 1 (2 for bad arguments); `--debug` shows the traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader of the output went away (`tl list models | head`): stop without a traceback.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except (TLError, OSError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            if isinstance(exc, OSError) and not isinstance(exc, TLError):
                target = f" {exc.filename}" if exc.filename else ""
                message = f"Cannot access{target}: {exc.strerror or exc}. Check the path and its permissions."
            else:
                message = str(exc)
            click.echo(f"Error: {message}", err=True)
            sys.exit(2 if isinstance(exc, USAGE_ERRORS) else 1)


def configure_logging(state: dict) -> None:
    """Set the log level from the output flags: WARNING, INFO with --verbose, DEBUG with --debug."""
    level = logging.WARNING
    if state.get("quiet"):
        level = logging.ERROR
    if state.get("verbose"):
        level = logging.INFO
    if state.get("debug"):
        level = logging.DEBUG
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", force=True, level=level)
    # torchao registers enums in a way torch 2.14 deprecates, so torch warns on every import. A user
    # cannot act on it, so it shows with --verbose or --debug only.
    logging.getLogger("torch.utils._pytree").setLevel(level if level <= logging.INFO else logging.ERROR)
    # Pillow logs every PNG chunk at DEBUG, which would bury --debug output.
    logging.getLogger("PIL").setLevel(max(level, logging.INFO))


def _output_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        state = ctx.find_root().obj
        state[param.name] = True
        configure_logging(state)


def output_options(command):
    """Add --quiet, --verbose and --debug to a command, so they also work after the command name."""
    for names, text in reversed([(("--quiet", "-q"), "Hide progress bars and informational messages."),
                                 (("--verbose", "-v"), "Log each step at INFO level."),
                                 (("--debug",), "Log at DEBUG level and show the traceback of a failure.")]):
        command = click.option(*names, is_flag=True, expose_value=False, callback=_output_flag,
                               help=text)(command)
    return command


def show_progress() -> bool:
    """Tell whether progress bars are on: they are, unless --quiet was given."""
    return not click.get_current_context().find_root().obj.get("quiet")


def _load_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is None:
        return
    import yaml

    try:
        loaded = yaml.safe_load(value.read_text()) or {}
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{value} is not valid YAML: {exc}", ctx, param) from exc
    if not isinstance(loaded, dict):
        raise click.BadParameter(f"{value} must be a mapping of option names to values.", ctx, param)
    known = {p.name: p for p in ctx.command.params if p.name and p.expose_value and p.name != "config"}
    values = {}
    for key, setting in loaded.items():
        name = str(key).replace("-", "_")
        if name not in known:
            import difflib

            spellings = sorted(n.replace("_", "-") for n in known)
            close = difflib.get_close_matches(name.replace("_", "-"), spellings, n=3, cutoff=0.6)
            hint = f"Close matches: {', '.join(close)}." if close else f"Valid options: {', '.join(spellings)}."
            raise click.BadParameter(f"{value} sets unknown option {key!r}. {hint}", ctx, param)
        values[name] = setting
    ctx.default_map = {**(ctx.default_map or {}), **values}


def config_option(command):
    """Add `--config FILE`: a YAML file that sets any option of the command; the command line wins."""
    return click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), is_eager=True,
                        expose_value=False, callback=_load_config,
                        help="YAML file of option values, keyed by option name (`batch-size: 64`). Options "
                             "typed on the command line win over the file, and the file wins over the "
                             "defaults.")(command)


@click.group(name="tl", cls=TLGroup, context_settings=CONTEXT_SETTINGS)
@click.option("--quiet", "-q", is_flag=True, help="Hide progress bars and informational messages.")
@click.option("--verbose", "-v", is_flag=True, help="Log each step at INFO level.")
@click.option("--debug", is_flag=True, help="Log at DEBUG level and show the traceback of a failure.")
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool, debug: bool) -> None:
    """tl: fine-tune pretrained models on your data, quantize them to INT8 and benchmark them.

    Options are spelled with dashes (--model-name); the underscore spelling (--model_name) works too.
    Run `tl COMMAND --help` for the options of one command.
    """
    ctx.obj = {"quiet": quiet, "verbose": verbose, "debug": debug}
    configure_logging(ctx.obj)
