"""Inference variants: FP32 eager, FP32 compiled, bfloat16, INT8, each in a fresh process.

Full mode measures every model that `make demo` built (images and text), reading them and their
test split from the artifact store. Quick mode trains a small MobileNetV2 itself, so it needs
nothing built. Each row gives batch 1 latency, batch 32 throughput and test accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench import common

TITLE = "Inference variants: FP32 eager and compiled, bfloat16, INT8 (fresh process each)"
COLUMNS = ["partition", "variant", "latency_ms_b1", "throughput_b32", "vs_fp32_compiled_b32", "accuracy",
           "startup_seconds", "threads"]
IMAGE_VARIANTS = ["fp32_eager", "fp32_compiled", "bf16_eager", "bf16_compiled", "int8_compiled"]
TEXT_VARIANTS = ["fp32_eager", "fp32_compiled", "bf16_eager", "bf16_compiled", "int8_dynamic"]
QUICK = {"samples": 300, "image_size": 64, "iterations": 5}
FULL = {"iterations": 30}


def add_arguments(parser) -> None:
    parser.add_argument("--config", help="pipeline settings whose built models are measured "
                        "(default: configs/pipeline.yaml)")
    parser.add_argument("--iterations", type=int, help="timed passes per batch size (quick: 5, full: 30)")


@dataclass
class BuiltModel:
    """A fine-tuned model and its INT8 version, with the samples to measure and calibrate on."""

    partition: str
    fp32_dir: Path
    int8_dir: Path
    test_samples: list
    variants: list[str]
    training_images: list[str] = field(default_factory=list)


def quick_models(args) -> list[BuiltModel]:
    """Train and quantize a small MobileNetV2 in the work folder; return it as one measurable partition."""
    from tl_engine import model_factory, quantization

    folder = common.image_folder(args.work_dir / f"fashion-{QUICK['samples']}", QUICK["samples"])
    model = model_factory.get_model("mobilenet_v2", "pytorch", image_size=QUICK["image_size"])
    dataset = common.image_dataset(folder, model, args.batch_size)
    fp32_dir, int8_dir = args.work_dir / "fp32", args.work_dir / "int8"
    model.train(dataset, output_dir=fp32_dir, epochs=3)
    quantization.quantize(model, dataset, int8_dir, calibration_samples=64)
    samples = [(str(dataset.samples[i].path), dataset.labels[i]) for i in dataset.splits["test"]]
    training = [str(dataset.samples[i].path) for i in dataset.splits["train"]]
    return [BuiltModel("pytorch|mobilenet_v2 (quick)", fp32_dir, int8_dir, samples, IMAGE_VARIANTS, training)]


def demo_models(args, use_case: str | None = None) -> list[BuiltModel]:
    """Return every model of every task (of `use_case`, when given) that `make demo` built, with its task's splits."""
    from tl_engine.pipeline.config import load_settings
    from tl_engine.pipeline.data_steps import load_task_dataset
    from tl_engine.pipeline.model_steps import held_out_samples
    from tl_engine.pipeline.use_cases import use_case_of
    from tl_engine.store import ArtifactStore

    settings = load_settings(args.config)
    store = ArtifactStore(settings.artifact_dir)
    found = []
    for task in settings.tasks:
        if use_case is not None and task.use_case != use_case:
            continue
        samples = training = None
        for entry in task.models:
            partition = f"{task.name}/{entry.framework}/{entry.model}"
            fp32_dir, int8_dir = store.latest("finetuned_model", partition), store.latest("quantized_model", partition)
            if fp32_dir is None or int8_dir is None:
                common.logger.warning("No built models for %s; run `make demo` first.", partition)
                continue
            samples = samples or held_out_samples(task, store)
            if training is None:
                dataset = load_task_dataset(task, store)
                training = [use_case_of(task).payload(dataset.samples[i]) for i in dataset.splits["train"]]
            variants = IMAGE_VARIANTS if task.use_case == "image_classification" else TEXT_VARIANTS
            found.append(BuiltModel(f"{task.name}: {entry.partition_key}", fp32_dir, int8_dir, samples, variants,
                                    training))
    if not found:
        raise SystemExit("No models built yet: run `make demo` first, or pass --quick.")
    return found


def run(args, quick: bool) -> dict:
    from tl_engine.benchmark.harness import BenchmarkSettings, run_variant

    iterations = args.iterations or (QUICK if quick else FULL)["iterations"]
    harness = BenchmarkSettings(batch_sizes=[1, 32], warmup=5, iterations=iterations, threads=args.threads)
    rows = []
    for built in quick_models(args) if quick else demo_models(args):
        results = {}
        for variant in built.variants:
            model_dir = built.int8_dir if variant.startswith("int8") else built.fp32_dir
            results[variant] = run_variant(model_dir, variant, harness, built.test_samples)
        baseline = results["fp32_compiled"]["timings"][1]["throughput_per_s"]
        for variant, result in results.items():
            b1, b32 = result["timings"]
            rows.append({"partition": built.partition, "variant": variant, "latency_ms_b1": b1["median_latency_ms"],
                         "throughput_b32": b32["throughput_per_s"],
                         "vs_fp32_compiled_b32": round(b32["throughput_per_s"] / baseline, 2),
                         "accuracy": result.get("accuracy"), "startup_seconds": result["startup_seconds"],
                         "threads": result["threads"]})
    return {"settings": {"iterations": iterations, "warmup": 5, "batch_sizes": [1, 32]}, "rows": rows}
