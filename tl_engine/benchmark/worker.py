"""Time one model variant in this process: `python -m tl_engine.benchmark.worker REQUEST.json RESULT.json`.

Each variant runs in its own process because a compiled model changes how later eager runs in the
same process perform (eager FP32 measured 4x slower after a compiled run, on torch 2.14).
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from pathlib import Path

import torch

logger = logging.getLogger(__name__)


class Bfloat16(torch.nn.Module):
    """Runs `body` with bfloat16 weights, then `head` (if any) in float32 on the body's float32 outputs.

    An image classifier's head stays in float32 because it standardizes the backbone features, and
    subtracting the mean in bfloat16 loses the small differences that separate the classes.
    """

    def __init__(self, body: torch.nn.Module, head: torch.nn.Module | None = None):
        super().__init__()
        self.body = body.to(torch.bfloat16)
        self.head = head

    def forward(self, inputs):
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.to(torch.bfloat16)
        outputs = self.body(inputs).float()
        return self.head(outputs) if self.head is not None else outputs


def load_variant(model_dir: str, variant: str, calibration: list[str] = ()):
    """Return `(module, preprocessing)` for a variant: fp32_eager, fp32_compiled, bf16_eager, bf16_compiled,
    int8_compiled, int8_dynamic, or (where IPEX is installed) ipex_fp32, ipex_bf16 or ipex_int8.

    Text modules take a dictionary of token tensors, image modules an image tensor. `calibration`
    lists the training images that `ipex_int8` calibrates on.
    """
    from tl_engine.models.hf_text import LogitsOf
    from tl_engine.store import read_metadata

    metadata = read_metadata(Path(model_dir))
    if metadata.get("framework") == "tensorflow":
        from tl_engine.benchmark.tf_variants import load_tf_variant

        return load_tf_variant(model_dir, variant, metadata), metadata["preprocessing"]
    if variant == "int8_dynamic":
        from tl_engine.quantization.hf_dynamic import load_dynamic_int8

        module = LogitsOf(load_dynamic_int8(model_dir))
    elif variant.startswith("int8"):
        from tl_engine.quantization.torch_int8 import load_int8_program

        module = load_int8_program(model_dir)
    else:
        from tl_engine.model_factory import load_model

        classifier = load_model(model_dir)
        module = classifier.model.eval()
        text = metadata["preprocessing"].get("kind") == "text"
        if text:
            module = LogitsOf(module)
        if variant.startswith("bf16"):
            module = Bfloat16(module) if text else Bfloat16(classifier.backbone, classifier.head)
        elif variant.startswith("ipex"):
            from tl_engine.benchmark.ipex_variants import build_ipex_variant

            # Only static INT8 calibrates, and only image models have it.
            calibrated = variant == "ipex_int8" and calibration
            batches = _image_batches(calibration, metadata["preprocessing"]) if calibrated else ()
            module = build_ipex_variant(module, variant, random_inputs(metadata["preprocessing"], 1), batches)
    if variant.endswith("compiled"):
        from torch._inductor import config as inductor_config

        inductor_config.freezing = True
        module = torch.compile(module, dynamic=False)
    return module, metadata["preprocessing"]


def random_inputs(preprocessing: dict, batch_size: int):
    """Return a random batch shaped for the model: images, or token ids of `max_length` with no padding."""
    if preprocessing.get("kind") == "text":
        length = int(preprocessing["max_length"])
        generator = torch.Generator().manual_seed(0)
        return {"input_ids": torch.randint(1000, 20000, (batch_size, length), generator=generator),
                "attention_mask": torch.ones(batch_size, length, dtype=torch.long)}
    size = int(preprocessing["input_size"])
    return torch.randn(batch_size, 3, size, size)


def _image_loader(paths: list[str], labels: list[int], preprocessing: dict, batch_size: int = 32):
    """Return a DataLoader of `(images, labels)` batches read from image files."""
    from torch.utils.data import DataLoader

    from tl_engine.datasets.torch_images import TorchImageDataset

    return DataLoader(TorchImageDataset(paths, labels, preprocessing), batch_size=batch_size)


def _image_batches(paths: list[str], preprocessing: dict, batch_size: int = 32) -> list[torch.Tensor]:
    return [inputs for inputs, _ in _image_loader(paths, [0] * len(paths), preprocessing, batch_size)]


def time_batches(module, preprocessing: dict, batch_size: int, warmup: int, iterations: int) -> dict:
    """Median latency of `iterations` forward passes after `warmup` passes, on random input."""
    inputs = random_inputs(preprocessing, batch_size)
    with torch.inference_mode():
        for _ in range(warmup):
            module(inputs)
        timings = []
        for _ in range(iterations):
            start = time.perf_counter()
            module(inputs)
            timings.append(time.perf_counter() - start)
    median = statistics.median(timings)
    return {"batch_size": batch_size, "median_latency_ms": round(median * 1000, 3),
            "throughput_per_s": round(batch_size / median, 2), "iterations": iterations}


def accuracy(module, preprocessing: dict, samples: list[tuple[str, int]], model_dir: str,
             batch_size: int = 32) -> float:
    """Top-1 accuracy on labelled samples: image file paths, or texts tokenized by the model folder's tokenizer."""
    if preprocessing.get("kind") == "text":
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        batches = []
        for start in range(0, len(samples), batch_size):
            chunk = samples[start:start + batch_size]
            inputs = tokenizer([text for text, _ in chunk], padding=True, truncation=True,
                               max_length=int(preprocessing["max_length"]), return_tensors="pt")
            batches.append((dict(inputs), torch.tensor([label for _, label in chunk])))
    else:
        batches = _image_loader([path for path, _ in samples], [label for _, label in samples], preprocessing,
                                batch_size)
    correct = 0
    with torch.inference_mode():
        for inputs, labels in batches:
            correct += int((module(inputs).argmax(1) == labels).sum())
    return round(correct / max(len(samples), 1), 4)


def run(request: dict) -> dict:
    torch.set_num_threads(request["threads"])
    from tl_engine.store import read_metadata

    if read_metadata(Path(request["model_dir"])).get("framework") == "tensorflow":
        from tl_engine.benchmark.tf_variants import set_threads

        set_threads(request["threads"])
    started = time.perf_counter()
    module, preprocessing = load_variant(request["model_dir"], request["variant"], request.get("calibration", ()))
    # The first call compiles a compiled variant; its cost is reported apart from the timings.
    with torch.inference_mode():
        module(random_inputs(preprocessing, 1))
    result = {"variant": request["variant"], "threads": torch.get_num_threads(),
              "startup_seconds": round(time.perf_counter() - started, 2), "timings": []}
    for batch_size in request["batch_sizes"]:
        result["timings"].append(time_batches(module, preprocessing, batch_size, request["warmup"],
                                              request["iterations"]))
    if request.get("samples"):
        result["accuracy"] = accuracy(module, preprocessing, request["samples"], request["model_dir"])
    return result


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    request_path, result_path = map(Path, sys.argv[1:3])
    result = run(json.loads(request_path.read_text()))
    result_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
