"""Turning engine step outcomes into Dagster materialization results."""

from __future__ import annotations

import base64

import dagster as dg

from tl_engine.pipeline.outcome import StepOutcome


def image_markdown(outcome: StepOutcome) -> dict[str, dg.MetadataValue]:
    """Embed each PNG of the artifact as Markdown, which the Dagster UI shows as a picture."""
    embedded = {}
    for name, path in outcome.plots.items():
        encoded = base64.b64encode(path.read_bytes()).decode()
        embedded[name] = dg.MetadataValue.md(f"![{name}](data:image/png;base64,{encoded})")
    return embedded


def materialize_result(context: dg.AssetExecutionContext, outcome: StepOutcome, metadata: dict | None = None,
                       check_results: list[dg.AssetCheckResult] | None = None) -> dg.MaterializeResult:
    """Log whether the step was built or reused and return its fingerprint as the data version."""
    context.log.info(outcome.describe())
    values = {"fingerprint": outcome.fingerprint, "reused": outcome.reused,
              "artifact": dg.MetadataValue.path(str(outcome.path)), **image_markdown(outcome), **(metadata or {})}
    return dg.MaterializeResult(metadata=values, data_version=dg.DataVersion(outcome.fingerprint),
                                check_results=check_results or [])
