"""Scale: feature extraction and head training time, and peak memory, at 1x, 4x and 16x the demo's size.

Larger datasets repeat the demo's Fashion-MNIST images under new file names (hard links), because
the package contains 60,000 training images and 16x the demo needs 128,000. Each size runs in a fresh
process, so its peak resident memory is its own. The features go to `.npy` files, as in the
pipeline's feature cache, and head training reads them back batch by batch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import common

TITLE = "Scale: feature extraction and training time and peak memory against dataset size"
COLUMNS = ["scale", "images", "feature_seconds", "feature_images_per_s", "training_seconds",
           "seconds_per_1k_images", "memory_before_mb", "peak_memory_mb", "feature_cache_mb", "threads"]
QUICK = {"samples": 200, "image_size": 32, "scales": [1, 4, 16], "epochs": 5}
FULL = {"samples": 8000, "image_size": 128, "scales": [1, 4, 16], "epochs": 30}
CHILD = """
import json, sys
from pathlib import Path
from bench import common, scale
common.set_threads({threads})
print(json.dumps(scale.measure(Path({folder!r}), {image_size}, {batch_size}, {epochs})))
"""


def add_arguments(parser) -> None:
    parser.add_argument("--samples", type=int, help="images at 1x (quick: 200, full: 8000, the demo's)")
    parser.add_argument("--image-size", type=int, help="input size in pixels (quick: 32, full: 128)")
    parser.add_argument("--scales", type=int, nargs="+", help="multiples of --samples (default: 1 4 16)")


def measure(folder: Path, image_size: int, batch_size: int, epochs: int) -> dict:
    """Extract features for the train and validation subsets and train the head; time both."""
    from tl_engine import model_factory

    model = model_factory.get_model("mobilenet_v2", "pytorch", image_size=image_size, head_hidden_units=256)
    dataset = common.image_dataset(folder, model, batch_size)
    common.warm_up(model.backbone, dataset)
    baseline_mb = common.peak_memory_mb()
    feature_dir = folder.parent / "features"
    shutil.rmtree(feature_dir, ignore_errors=True)
    feature_dir.mkdir()
    started = time.perf_counter()
    features = {subset: model.extract_features(dataset, subset, to_file=feature_dir / f"{subset}.npy")
                for subset in ("train", "validation")}
    feature_seconds = time.perf_counter() - started
    peak_after_features = common.peak_memory_mb()
    feature_mb = round(sum(x.nbytes + y.nbytes for x, y in features.values()) / 2**20, 1)
    started = time.perf_counter()
    model.train(dataset, epochs=epochs, features=features)
    training_seconds = time.perf_counter() - started
    shutil.rmtree(feature_dir)
    return {"images": len(dataset.splits["train"]) + len(dataset.splits["validation"]),
            "feature_seconds": feature_seconds, "training_seconds": training_seconds,
            "peak_memory_mb": common.peak_memory_mb(), "memory_before_mb": baseline_mb,
            "memory_after_features_mb": peak_after_features, "feature_cache_mb": feature_mb}


def run(args, quick: bool) -> dict:
    plan = dict(QUICK if quick else FULL)
    samples = args.samples or plan["samples"]
    image_size = args.image_size or plan["image_size"]
    epochs = (args.epochs or [plan["epochs"]])[0]
    rows = []
    for multiple in args.scales or plan["scales"]:
        folder = common.image_folder(args.work_dir / f"fashion-{samples}x{multiple}", samples, copies=multiple)
        code = CHILD.format(threads=args.threads, folder=str(folder), image_size=image_size,
                            batch_size=args.batch_size, epochs=epochs)
        completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   cwd=common.ROOT)
        if completed.returncode != 0:
            raise SystemExit(f"The {multiple}x run failed:\n{completed.stderr[-3000:]}")
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        rows.append({"scale": f"{multiple}x", "images": result["images"],
                     "feature_seconds": round(result["feature_seconds"], 1),
                     "feature_images_per_s": round(result["images"] / result["feature_seconds"], 1),
                     "training_seconds": round(result["training_seconds"], 1),
                     "seconds_per_1k_images": round(1000 * (result["feature_seconds"] + result["training_seconds"])
                                                    / result["images"], 2),
                     "peak_memory_mb": result["peak_memory_mb"], "memory_before_mb": result["memory_before_mb"],
                     "memory_after_features_mb": result["memory_after_features_mb"],
                     "feature_cache_mb": result["feature_cache_mb"], "threads": args.threads})
    return {"settings": {"model": "mobilenet_v2", "samples_at_1x": samples, "image_size": image_size,
                         "epochs": epochs, "batch_size": args.batch_size}, "rows": rows}
