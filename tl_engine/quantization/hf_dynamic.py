"""Dynamic INT8 quantization of Hugging Face text classifiers.

Every `nn.Linear` gets INT8 weights, and its activations are quantized per batch at run time, so
no calibration data is needed. The path is PyTorch's `quantize_dynamic`: on MiniLM-L6 here it ran
faster than Neural Compressor 3.10's dynamic PT2E path (`bench/text_int8.py`, BENCHMARKS.md).
The weights are saved as a state_dict of tensors and loaded with `weights_only=True`.
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from tl_engine.store import METADATA_FILE, atomic_directory, write_json_atomic

logger = logging.getLogger(__name__)

INT8_FORMAT = "hf_dynamic_int8"
INT8_STATE_FILE = "int8_state_dict.pt"


# NOTE: torch 2.14 deprecates torch.ao.quantization and its quantized tensors, and a later release
# may remove them. Neural Compressor's dynamic PT2E path (measured in bench/text_int8.py) replaces
# this path then.
def _quantize(model: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*", category=UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def quantize_dynamic(classifier, output_dir: str | Path, extra_metadata: dict | None = None) -> Path:
    """Quantize a trained text classifier's linear layers to INT8 and write it to a new `output_dir`, atomically."""
    started = time.perf_counter()
    quantized = _quantize(copy.deepcopy(classifier.model).eval())
    output_dir = Path(output_dir)
    with atomic_directory(output_dir) as temporary:
        torch.save(quantized.state_dict(), temporary / INT8_STATE_FILE)
        classifier.model.config.save_pretrained(temporary)
        classifier.tokenizer.save_pretrained(temporary)
        metadata = {**classifier.metadata(), "format": INT8_FORMAT, "weights_file": INT8_STATE_FILE,
                    "quantization": {"tool": f"torch {torch.__version__.split('+')[0]} quantize_dynamic",
                                     "approach": "dynamic", "path": "pytorch_dynamic", "calibration_samples": 0,
                                     "seconds": round(time.perf_counter() - started, 2)},
                    **(extra_metadata or {})}
        write_json_atomic(temporary / METADATA_FILE, metadata)
    logger.info("Quantized %s to dynamic INT8 in %s", classifier.name, output_dir)
    return output_dir


def load_dynamic_int8(model_dir: str | Path) -> nn.Module:
    """Rebuild the quantized model from its config and load the INT8 state_dict (weights_only)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    model_dir = Path(model_dir)
    skeleton = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(model_dir))
    quantized = _quantize(skeleton.eval())
    quantized.load_state_dict(torch.load(model_dir / INT8_STATE_FILE, map_location="cpu", weights_only=True))
    return quantized.eval()
