"""Compare the INT8 paths for a Hugging Face text classifier: PyTorch dynamic against Neural Compressor's.

Usage: `.venv/bin/python bench/text_int8.py [--reviews 1200] [--iterations 20] [--threads 2]`.
Fine-tunes MiniLM-L6 on Rotten Tomatoes snippets (seeded), quantizes it both ways, and times each
variant in a fresh process at batch 1 and 32 with `max_length` tokens, with test accuracy. Prints a
table and writes `bench/results/text_int8.json`. The faster INT8 path is tl's default.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "text_int8.json"


def inc_worker(model_dir: str, batch_sizes: list[int], iterations: int, threads: int) -> dict:
    """Quantize with INC 3.10's dynamic PT2E path, compile, and time it in this process."""
    import torch
    from neural_compressor.torch.export import export
    from neural_compressor.torch.quantization import DynamicQuantConfig, convert, prepare

    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer  # noqa: F401  (inductor INT8 passes)
    from tl_engine.benchmark.worker import random_inputs
    from tl_engine.model_factory import load_model
    from tl_engine.models.hf_text import PositionalLogits

    torch.set_num_threads(threads)
    model = load_model(model_dir)
    example = random_inputs(model.preprocessing, 2)
    batch = torch.export.Dim("batch", min=1, max=1024)
    exported = export(PositionalLogits(model.model.eval()), example_inputs=(example["input_ids"], example["attention_mask"]),
                      dynamic_shapes=({0: batch}, {0: batch}))
    quantized = convert(prepare(exported, DynamicQuantConfig()))
    from torch._inductor import config as inductor_config

    inductor_config.freezing = True
    compiled = torch.compile(quantized, dynamic=False)
    timings = []
    with torch.inference_mode():
        for batch_size in batch_sizes:
            inputs = random_inputs(model.preprocessing, batch_size)
            for _ in range(3):
                compiled(inputs["input_ids"], inputs["attention_mask"])
            samples = []
            for _ in range(iterations):
                started = time.perf_counter()
                compiled(inputs["input_ids"], inputs["attention_mask"])
                samples.append(time.perf_counter() - started)
            median = statistics.median(samples)
            timings.append({"batch_size": batch_size, "median_latency_ms": round(median * 1000, 3),
                            "throughput_per_s": round(batch_size / median, 2)})
    return {"variant": "inc_dynamic_compiled", "threads": threads, "timings": timings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=1200, help="review snippets to fine-tune and test on")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=20, help="timed passes per batch size")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--inc-worker", nargs=2, metavar=("MODEL_DIR", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inc_worker:
        result = inc_worker(args.inc_worker[0], [1, 32], args.iterations, args.threads)
        Path(args.inc_worker[1]).write_text(json.dumps(result))
        return 0
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from tl_engine import benchmark, dataset_factory, model_factory, quantization
    from tl_engine.demo_text_data import write_review_drops
    from tl_engine.quantization.hf_dynamic import load_dynamic_int8

    with tempfile.TemporaryDirectory(prefix="tl-text-int8-") as scratch:
        scratch = Path(scratch)
        write_review_drops(scratch / "data", ["all"], samples=args.reviews)
        model = model_factory.get_model("minilm_l6", "pytorch", max_length=args.max_length)
        dataset = dataset_factory.load_dataset(scratch / "data" / "all", "text_classification",
                                               label_column="label", text_column="text")
        dataset.shuffle_split(train_pct=0.7, val_pct=0.1, test_pct=0.2, seed=0)
        dataset.preprocess(model.preprocessing, batch_size=32)
        model.train(dataset, output_dir=scratch / "fp32", epochs=args.epochs, seed=0)
        fp32_accuracy = model.evaluate(dataset)["accuracy"]
        quantization.quantize(model, dataset, scratch / "int8")
        int8 = model_factory.load_model(scratch / "fp32")
        int8._model = load_dynamic_int8(scratch / "int8")
        int8_accuracy = int8.evaluate(dataset)["accuracy"]
        results = {}
        for directory, compiled in ((scratch / "fp32", False), (scratch / "fp32", True), (scratch / "int8", True)):
            result = benchmark.benchmark_model(directory, [1, 32], args.iterations, 3, args.threads, compiled)
            results[result["variant"]] = result
        result_file = scratch / "inc.json"
        subprocess.run([sys.executable, __file__, "--inc-worker", str(scratch / "fp32"), str(result_file),
                        "--iterations", str(args.iterations), "--threads", str(args.threads)], check=True)
        results["inc_dynamic_compiled"] = json.loads(result_file.read_text())
    baseline = {t["batch_size"]: t["throughput_per_s"] for t in results["fp32_eager"]["timings"]}
    rows = []
    for variant, result in results.items():
        for timing in result["timings"]:
            rows.append({"variant": variant, "batch_size": timing["batch_size"],
                         "latency_ms": timing["median_latency_ms"], "throughput_per_s": timing["throughput_per_s"],
                         "vs_fp32_eager": round(timing["throughput_per_s"] / baseline[timing["batch_size"]], 2)})
    sys.stdout.write(f"Test accuracy: FP32 {fp32_accuracy:.4f}, PyTorch dynamic INT8 {int8_accuracy:.4f} "
                     f"({len(dataset.splits['test'])} snippets); threads {args.threads}, max_length {args.max_length}\n")
    sys.stdout.write(f"{'variant':<22} {'batch':>5} {'latency ms':>11} {'per s':>9} {'vs FP32 eager':>14}\n")
    for row in rows:
        sys.stdout.write(f"{row['variant']:<22} {row['batch_size']:>5} {row['latency_ms']:>11.2f} "
                         f"{row['throughput_per_s']:>9.1f} {row['vs_fp32_eager']:>14.2f}\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"threads": args.threads, "max_length": args.max_length, "reviews": args.reviews,
                                   "fp32_accuracy": fp32_accuracy, "int8_dynamic_accuracy": int8_accuracy,
                                   "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
