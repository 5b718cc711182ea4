"""Plain-text tables and JSON output for the command line."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click


def format_cell(value) -> str:
    """Render one cell: thousands separators for integers, four decimals for fractions, `-` for nothing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"
    return str(value)


def echo_rows(rows: Sequence[dict], columns: Sequence[str], as_json: bool = False) -> None:
    """Print rows as an aligned table with a header, or as a JSON list with `as_json`."""
    if as_json:
        click.echo(json.dumps(list(rows), indent=2, default=str))
        return
    cells = [[format_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    click.echo("  ".join(column.ljust(width) for column, width in zip(columns, widths)).rstrip())
    for line in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
