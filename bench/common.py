"""Helpers that every measurement of the suite shares: threads, the demo data, the machine record and results."""

from __future__ import annotations

import json
import logging
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
FASHION_MNIST_ROOT = ROOT / ".cache" / "debian" / "fashion-mnist"

logger = logging.getLogger("bench")


def set_threads(threads: int) -> int:
    """Use `threads` CPU threads in torch and in the libraries it calls; return the count torch reports."""
    import torch

    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def machine() -> dict:
    """Return what a reader needs to compare figures: CPU, cores, load, Python and the torch version."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "load_average_1min": round(os.getloadavg()[0], 2)}


def peak_memory_mb() -> float:
    """Return the peak resident memory of this process so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def image_folder(root: Path, samples: int, seed: int = 0, copies: int = 1) -> Path:
    """Write `samples` stratified Fashion-MNIST images as a class-folder dataset under `root`; return it.

    With `copies` above 1, every image is also linked under `copies - 1` new names. That makes
    datasets larger than the 60,000 training images of Fashion-MNIST.
    """
    from tl_engine.demo_data import write_landing_drops

    folder = root / "day"
    if not folder.is_dir():
        write_landing_drops(FASHION_MNIST_ROOT, root, ["day"], samples, seed=seed)
    if copies > 1:
        for image in list(folder.glob("*/*.png")):
            for copy in range(1, copies):
                target = image.with_name(f"{image.stem}_copy{copy}.png")
                if not target.exists():
                    os.link(image, target)
    return folder


def image_dataset(folder: Path, model, batch_size: int, split_seed: int = 0, framework: str = "pytorch"):
    """Load an image folder, split it 70/15/15 as the demo does, and preprocess it for `model`."""
    from tl_engine import dataset_factory

    dataset = dataset_factory.load_dataset(folder, "image_classification", framework)
    dataset.shuffle_split(train_pct=0.7, val_pct=0.15, test_pct=0.15, seed=split_seed)
    dataset.preprocess(model.preprocessing, batch_size=batch_size)
    return dataset


def warm_up(module, dataset, batches: int = 2) -> None:
    """Run a few batches through `module` first, so one-time allocations are not timed."""
    import torch

    with torch.inference_mode():
        for index, (inputs, _) in enumerate(dataset.loader("train")):
            module(inputs)
            if index + 1 == batches:
                break


def write_results(name: str, quick: bool, payload: dict) -> Path:
    """Write a measurement's figures to `bench/results/<name>.json` (`<name>.quick.json` in quick mode)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}{'.quick' if quick else ''}.json"
    temporary = path.with_suffix(".json.partial")
    temporary.write_text(json.dumps(payload, indent=2) + "\n")
    temporary.replace(path)
    return path


def print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    """Print rows as a Markdown table under a title, as BENCHMARKS.md shows them."""
    from tl_engine.pipeline.report_steps import markdown_table

    sys.stdout.write(f"\n{title}\n\n{markdown_table(rows, columns)}\n")


def add_overhead_arguments(parser) -> None:
    """Add the options that both engine overhead measurements take."""
    parser.add_argument("--samples", type=int, help="images in the dataset (quick: 300, full: 1000)")
    parser.add_argument("--image-size", type=int, help="input size in pixels (quick: 64, full: 128)")
    parser.add_argument("--repeats", type=int, help="repeats per loop (quick: 3, full: 4)")


def timed(function) -> float:
    """Run `function` once; return the seconds it took."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def paired_medians(tl_side, other_side, repeats: int) -> tuple[float, float]:
    """Time two callables `repeats` times each; return the median seconds of each.

    The side that runs first alternates, so that neither gains from going second.
    """
    tl_times, other_times = [], []
    for repeat in range(repeats):
        if repeat % 2 == 0:
            tl_times.append(timed(tl_side))
            other_times.append(timed(other_side))
        else:
            other_times.append(timed(other_side))
            tl_times.append(timed(tl_side))
    return statistics.median(tl_times), statistics.median(other_times)
