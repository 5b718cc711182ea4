"""Step outcomes, and the code versions that go into every fingerprint."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tl_engine.store import ArtifactStore, read_metadata

# Bump a step's version when its code changes what it writes. Every artifact that the older code
# built then becomes stale, and so does everything downstream of it.
CODE_VERSIONS = {
    "raw_drop": "1", "dataset": "1", "splits": "1", "features": "2", "finetuned_model": "4",
    "evaluation": "1", "quantized_model": "1", "benchmark_report": "5", "leaderboard": "1",
    "daily_evaluation": "1",
}


@dataclass
class StepOutcome:
    """The artifact a step built or found already built for its fingerprint."""

    kind: str
    partition: str
    fingerprint: str
    path: Path
    metadata: dict
    reused: bool
    plots: dict[str, Path] = field(default_factory=dict)

    def describe(self) -> str:
        verb = "reused (fingerprint already built)" if self.reused else "built"
        return f"{self.kind}[{self.partition}] {verb}: {self.fingerprint}"


def reuse_if_built(store: ArtifactStore, kind: str, partition: str, fingerprint: str) -> StepOutcome | None:
    """Return the existing artifact for this fingerprint, marking it as the latest, or None."""
    path = store.find(kind, partition, fingerprint)
    if path is None:
        return None
    store.set_latest(kind, partition, fingerprint)
    return StepOutcome(kind, partition, fingerprint, path, read_metadata(path), reused=True,
                       plots={p.stem: p for p in sorted(path.glob("*.png"))})


def built(store: ArtifactStore, kind: str, partition: str, fingerprint: str) -> StepOutcome:
    path = store.find(kind, partition, fingerprint)
    return StepOutcome(kind, partition, fingerprint, path, read_metadata(path), reused=False,
                       plots={p.stem: p for p in sorted(path.glob("*.png"))})
