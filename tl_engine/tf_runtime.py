"""Importing TensorFlow beside PyTorch without the triton crash.

TensorFlow 2.21 loads its libraries with RTLD_GLOBAL, and triton 3.8 (which torch 2.14 loads
lazily, through torchvision, `torch.compile` or the first optimizer) crashes the process with
SIGSEGV when it loads after TensorFlow (upstream tensorflow issue 124205). Loaded the other way
round, both work. So every TensorFlow import in tl goes through `tensorflow()` here, which loads
triton first when it is installed. Nothing else in tl imports TensorFlow, and importing this
module imports neither framework.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys

logger = logging.getLogger(__name__)


def _load_triton_first() -> None:
    if "tensorflow" in sys.modules and "triton" not in sys.modules and importlib.util.find_spec("triton"):
        logger.warning("TensorFlow was imported before triton; if PyTorch loads triton later in this process it "
                       "crashes with SIGSEGV. Import tl_engine's TensorFlow models before tensorflow itself.")
        return
    if importlib.util.find_spec("triton") is not None:
        importlib.import_module("triton")


def tensorflow():
    """Import and return the `tensorflow` module, with triton loaded before it."""
    if "tensorflow" not in sys.modules or "triton" not in sys.modules:
        _load_triton_first()
        # TensorFlow's C++ start-up messages (no CUDA driver, oneDNN on) are noise on a CPU machine.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def tf_keras():
    """Import and return `tf_keras`, the Keras 2 that `tensorflow_hub.KerasLayer` needs (Keras 3 rejects it)."""
    tensorflow()
    import tf_keras as keras

    return keras


def tensorflow_hub():
    """Import and return `tensorflow_hub`."""
    tensorflow()
    import tensorflow_hub as hub

    return hub
