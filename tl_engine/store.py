"""The artifact store: immutable, fingerprinted directories written atomically.

Layout: `<root>/<kind>/<partition>/<fingerprint>/`, each directory holding `tl_metadata.json`.
A directory is written under `<root>/.tmp/` and renamed into place only once it is complete, so an
interrupted run never leaves a directory that a later run would take for finished. `LATEST` in
`<root>/<kind>/<partition>/` names the fingerprint that was built or reused last.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tl_engine.errors import ArtifactError

logger = logging.getLogger(__name__)

METADATA_FILE = "tl_metadata.json"


def fingerprint(*parts) -> str:
    """Hash JSON-serializable parts into a 16-hex-digit fingerprint."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _umask() -> int:
    """Return the process umask, read from /proc where possible: setting it to read it races other threads."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, data) -> None:
    """Write JSON to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    # mkstemp creates the file readable by its owner only; give it the usual permissions instead.
    os.chmod(temporary, 0o666 & ~_umask())
    with os.fdopen(handle, "w") as stream:
        json.dump(data, stream, indent=2, default=str)
    os.replace(temporary, path)


FP32_FORMATS = ("torch_state_dict", "hf_pretrained", "tf_saved_model")
INT8_FORMATS = ("torch_export_int8", "hf_dynamic_int8", "tf_saved_model_int8")
# A plain-words description of each model format in tl_metadata.json, for messages.
FORMAT_DESCRIPTIONS = {
    "torch_state_dict": "an FP32 PyTorch model (from `tl train`)",
    "hf_pretrained": "an FP32 Hugging Face model (from `tl train`)",
    "tf_saved_model": "an FP32 TensorFlow SavedModel (from `tl train`)",
    "tf_saved_model_int8": "an INT8 TensorFlow SavedModel (from `tl quantize`; `tl benchmark --int8-model-dir` "
                           "measures it)",
    "torch_export_int8": "an INT8 image model (from `tl quantize`; `tl benchmark --int8-model-dir` measures it)",
    "hf_dynamic_int8": "a dynamic INT8 text model (from `tl quantize`; `tl benchmark --int8-model-dir` "
                       "measures it)",
    "onnx": "an ONNX model (from `tl export`; run it with onnxruntime)",
}


def describe_format(model_format: str | None) -> str:
    """Describe a model format of tl_metadata.json in words, for error messages."""
    return FORMAT_DESCRIPTIONS.get(model_format, f"a model of unknown format {model_format!r}")


def read_metadata(directory: Path) -> dict:
    """Read an artifact directory's `tl_metadata.json`."""
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"{directory} is not a tl artifact: {METADATA_FILE} is missing. "
                            "Pass a directory written by tl (train, export or quantize).")
    return json.loads(path.read_text())


def check_output_dir(path: str | Path) -> Path:
    """Fail early, before any long work, when `path` cannot become a new output directory.

    The directory must not exist or be empty, and its parent must be a writable directory.
    """
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ArtifactError(f"Output directory {path} already exists and is not empty. "
                            "Choose a new directory or remove the old one.")
    blocking = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
    if blocking is not None:
        raise ArtifactError(f"Cannot write output directory {path}: {blocking} is a file, not a folder. "
                            "Choose another directory.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.probe-")
    except OSError as exc:
        raise ArtifactError(f"Cannot write output directory {path}: {exc.strerror or exc}. "
                            "Choose a writable directory.") from exc
    os.rmdir(probe)
    return path


@contextlib.contextmanager
def atomic_directory(final: Path, staging_root: Path | None = None) -> Iterator[Path]:
    """Yield an empty temporary directory that becomes `final` when the block ends without an error.

    `final` must not exist yet (or be an empty folder). On an error the temporary directory is removed.
    """
    final = Path(final)
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise ArtifactError(f"Output directory {final} already exists and is not empty. "
                            "Choose a new directory or remove the old one.")
    staging_root = Path(staging_root) if staging_root else final.parent
    staging_root.mkdir(parents=True, exist_ok=True)
    try:
        temporary = Path(tempfile.mkdtemp(dir=staging_root, prefix=f".{final.name}.tmp-"))
        # mkdtemp creates the folder for its owner only; a model folder is shared like any other.
        temporary.chmod(0o777 & ~_umask())
    except PermissionError as exc:
        raise ArtifactError(f"Cannot write to {staging_root}: permission denied. Choose a writable directory.") from exc
    try:
        yield temporary
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            final.rmdir()
        os.rename(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


class ArtifactStore:
    """Fingerprinted artifact directories under one root folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, kind: str, partition: str, fingerprint_: str) -> Path:
        return self.root / kind / partition / fingerprint_

    def find(self, kind: str, partition: str, fingerprint_: str) -> Path | None:
        """Return the finished directory for this fingerprint, or None when it was never completed."""
        path = self.path(kind, partition, fingerprint_)
        return path if (path / METADATA_FILE).is_file() else None

    @contextlib.contextmanager
    def write(self, kind: str, partition: str, fingerprint_: str, metadata: dict) -> Iterator[tuple[Path, dict]]:
        """Yield `(temporary_dir, metadata)`; the caller fills both, and the directory is published at the end."""
        final = self.path(kind, partition, fingerprint_)
        staging = self.root / ".tmp"
        with atomic_directory(final, staging_root=staging) as temporary:
            metadata = dict(metadata, kind=kind, partition=partition, fingerprint=fingerprint_,
                            created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            yield temporary, metadata
            write_json_atomic(temporary / METADATA_FILE, metadata)
        self.set_latest(kind, partition, fingerprint_)

    def set_latest(self, kind: str, partition: str, fingerprint_: str) -> None:
        pointer = self.root / kind / partition / "LATEST"
        pointer.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=pointer.parent, prefix=".LATEST.")
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "w") as stream:
            stream.write(fingerprint_ + "\n")
        os.replace(temporary, pointer)

    def latest(self, kind: str, partition: str) -> Path | None:
        """Return the directory that LATEST names, or None when nothing was built for this partition."""
        pointer = self.root / kind / partition / "LATEST"
        if not pointer.is_file():
            return None
        return self.find(kind, partition, pointer.read_text().strip())

    def require_latest(self, kind: str, partition: str) -> Path:
        path = self.latest(kind, partition)
        if path is None:
            raise ArtifactError(f"No {kind} artifact for {partition!r} in {self.root}. Materialize {kind} first.")
        return path
