"""Loading TensorFlow Hub models as `tf_keras` layers, never falling back to random weights.

`hub.KerasLayer(handle)` looks for the handle's SavedModel in TensorFlow Hub's cache folder and
downloads it from the handle's URL when the folder is missing.
Without a network, only a cache seeded by `tl setup` can serve it.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
from pathlib import Path

from tl_engine.catalog import tfhub_module_dir
from tl_engine.errors import WeightsNotFoundError
from tl_engine.tf_runtime import tensorflow_hub

logger = logging.getLogger(__name__)

# Written by `tl setup` beside a SavedModel that tl converted from other weights instead of downloading it.
CONVERSION_FILE = "tl_converted.json"


def _cache_fix(handle: str) -> str:
    """Say how to fill the cache for `handle`: `tl setup` can only for the handles it converts."""
    from tl_engine.models.tf_converted import MOBILENET_V2_HANDLE

    if handle == MOBILENET_V2_HANDLE:
        return "Run `make setup` (or `tl setup`) to seed the cache, or connect to the network."
    return ("Connect to the network once so that TensorFlow Hub downloads it, or copy the model's SavedModel "
            "into that folder; `tl setup` seeds only mobilenet_v2 (tensorflow).")


def hub_layer(handle: str, trainable: bool):
    """Return `hub.KerasLayer(handle, trainable=trainable)`, loaded from the cache or downloaded.

    Raises:
        WeightsNotFoundError: the handle is a URL whose model is not in the cache folder and
            could not be downloaded, or whose cache folder is incomplete.
    """
    # NOTE: with TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED, TensorFlow Hub reads the model from Cloud Storage
    # without the cache folder, so the folder named in these errors does not apply. That mode is untested.
    hub = tensorflow_hub()
    module_dir = tfhub_module_dir(handle)
    remote = handle.startswith(("http://", "https://"))
    cached = _check_cache_folder(handle, module_dir) if remote else False
    try:
        return hub.KerasLayer(handle, trainable=trainable)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        # A failed download raises URLError (HTTPError for a bad status) or a socket OSError. Errors from a
        # local path or from reading a cached model are not about the download, so they propagate unchanged.
        if not remote or cached:
            raise
        raise WeightsNotFoundError(
            f"TensorFlow Hub model {handle} was not found in the cache folder {module_dir} and the download "
            f"failed ({exc}). {_cache_fix(handle)}"
        ) from exc


def _check_cache_folder(handle: str, module_dir: Path) -> bool:
    """Log what the cache folder of `handle` contains, and tell whether it contains a SavedModel.

    Raises:
        WeightsNotFoundError: the folder contains files but no SavedModel.
    """
    saved_model = (module_dir / "saved_model.pb").is_file() or (module_dir / "saved_model.pbtxt").is_file()
    if saved_model and (module_dir / CONVERSION_FILE).is_file():
        logger.info("The cache folder %s of %s contains a converted substitute, not the published model. "
                    "%s in that folder describes it.", module_dir, handle, CONVERSION_FILE)
    elif not saved_model and module_dir.is_dir() and any(module_dir.iterdir()):
        # TensorFlow Hub takes any non-empty folder for the model and never downloads it again.
        raise WeightsNotFoundError(
            f"The TensorFlow Hub cache folder {module_dir} of {handle} contains no saved_model.pb, so it is "
            "incomplete. Delete it, then run `make setup` (or `tl setup`) to seed the cache, or connect to the "
            "network so that TensorFlow Hub downloads the model again."
        )
    elif not saved_model:
        logger.info("TensorFlow Hub model %s is not in %s, so TensorFlow Hub downloads it.", handle, module_dir)
    return saved_model
