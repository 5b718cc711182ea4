"""The model catalog: every supported model with its hub, hub id, input size and preprocessing.

The entries live in `models.yaml` beside this module, so adding a model is a data change.
"""

from __future__ import annotations

import difflib
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tl_engine.errors import CatalogError

CATALOG_FILE = Path(__file__).with_name("models.yaml")
FRAMEWORKS = ("pytorch", "tensorflow")
USE_CASES = ("image_classification", "text_classification")


@dataclass(frozen=True)
class ModelEntry:
    """One catalog row: a pretrained model that a framework can load from a hub."""

    name: str
    framework: str
    use_case: str
    hub: str
    hub_id: str
    input_size: int
    parameters: int
    weights_file: str = ""
    preprocessing: dict = field(default_factory=dict)


@functools.cache
def load_catalog() -> tuple[ModelEntry, ...]:
    """Read every entry of `models.yaml`."""
    raw = yaml.safe_load(CATALOG_FILE.read_text())
    return tuple(ModelEntry(**entry) for entry in raw["models"])


def torch_hub_dir() -> Path:
    """Return torch's hub cache folder the way `torch.hub.get_dir()` finds it, without importing torch."""
    cache = os.environ.get("XDG_CACHE_HOME", "~/.cache")
    return Path(os.environ.get("TORCH_HOME", os.path.join(cache, "torch"))).expanduser() / "hub"


def weights_available(entry: ModelEntry) -> bool:
    """Tell whether the entry's pretrained weights are in the local cache, so it loads offline."""
    return bool(entry.weights_file) and (torch_hub_dir() / "checkpoints" / entry.weights_file).is_file()


def list_models(framework: str | None = None, use_case: str | None = None) -> list[ModelEntry]:
    """Return the catalog entries, optionally filtered by framework and use case.

    Example:
        >>> [m.name for m in list_models("pytorch")][:2]
        ['alexnet', 'convnext_base']
    """
    if framework is not None and framework not in FRAMEWORKS:
        raise CatalogError(f"Unknown framework {framework!r}. Valid frameworks: {', '.join(FRAMEWORKS)}.")
    if use_case is not None and use_case not in USE_CASES:
        raise CatalogError(f"Unknown use case {use_case!r}. Valid use cases: {', '.join(USE_CASES)}.")
    return [
        entry for entry in load_catalog()
        if (framework is None or entry.framework == framework) and (use_case is None or entry.use_case == use_case)
    ]


def find_model(name: str, framework: str, use_case: str | None = None) -> ModelEntry:
    """Return the catalog entry of `name` for `framework`, or raise CatalogError with close matches.

    Example:
        >>> find_model("mobilenet_v2", "pytorch").hub_id
        'MobileNet_V2_Weights.IMAGENET1K_V1'
    """
    if framework not in FRAMEWORKS:
        raise CatalogError(f"Unknown framework {framework!r}. Valid frameworks: {', '.join(FRAMEWORKS)}.")
    candidates = [entry for entry in load_catalog() if entry.name == name]
    if not candidates:
        known = sorted({entry.name for entry in load_catalog()})
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = f" Close matches: {', '.join(close)}." if close else " Run `tl list models` to see every model."
        raise CatalogError(f"Unknown model name {name!r}.{hint}")
    matching = [entry for entry in candidates if entry.framework == framework]
    if not matching:
        valid = ", ".join(sorted({entry.framework for entry in candidates}))
        raise CatalogError(
            f"Model {name!r} is not implemented for framework {framework!r}. Valid frameworks for it: {valid}."
        )
    if use_case is not None:
        matching = [entry for entry in matching if entry.use_case == use_case]
        if not matching:
            raise CatalogError(f"Model {name!r} ({framework}) does not support the use case {use_case!r}.")
    return matching[0]
