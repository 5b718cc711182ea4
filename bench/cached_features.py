"""Time to a trained model: tl's cached features against running the frozen backbone every epoch.

tl's default path runs the frozen backbone once over the training and validation images, caches
the features and trains the head on them. The plain approach, as most tutorials write it, runs the
backbone on every image in every epoch. Both train the same head with the same seed, optimizer,
batch size and best-validation-epoch rule. Their accuracies differ only because the two sides
shuffle the training batches differently. On the quick mode's 40 test images, one image is 2.5 points.

The plain loop runs once, for the largest epoch count, and its time and best model are read off
after each smaller count. Because Adam runs with no schedule and each epoch's shuffle has its own
seed, the first N epochs of a longer run are exactly a run of N epochs.
"""

from __future__ import annotations

import copy
import time

import torch
from torch import nn

from bench import common

TITLE = "Time to a trained model: cached features (tl) against the backbone in every epoch (plain)"
COLUMNS = ["model", "epochs", "tl_seconds", "plain_seconds", "speedup", "tl_accuracy", "plain_accuracy",
           "accuracy_gap_points", "train_images", "threads"]
QUICK = {"samples": 300, "image_size": 64, "epochs": [1, 2, 5], "models": ["mobilenet_v2"]}
FULL = {"samples": 8000, "image_size": 128, "epochs": [1, 5, 20], "models": ["mobilenet_v2"]}


def add_arguments(parser) -> None:
    parser.add_argument("--samples", type=int, help="images in the dataset (quick: 300, full: 8000, the demo's)")
    parser.add_argument("--image-size", type=int, help="input size in pixels (quick: 64, full: 128)")
    parser.add_argument("--models", nargs="+", help="catalog model names (default: mobilenet_v2)")


def _test_accuracy(model, dataset) -> float:
    return round(model.evaluate(dataset)["accuracy"], 4)


def plain_training(model, dataset, epoch_counts: list[int], learning_rate: float, seed: int) -> dict[int, dict]:
    """Train the head the tutorial way, running every image through the backbone in every epoch.

    Returns, for each count in `epoch_counts`, the seconds spent up to that epoch and the test
    accuracy of the best-validation head so far.
    """
    from tl_engine.models.torch_training import seed_everything

    model.start_training(dataset, None, seed)
    backbone, head = model.backbone.eval(), model.head
    for parameter in backbone.parameters():
        parameter.requires_grad_(False)
    # The same standardization as tl's head, from one pass over the training images. A tutorial
    # head has none, so this pass is left out of the plain loop's time.
    with torch.inference_mode():
        features = torch.cat([backbone(inputs) for inputs, _ in dataset.loader("train")])
    head.norm.mean.copy_(features.mean(0))
    head.norm.std.copy_(features.std(0, unbiased=False) + 1e-6)
    seed_everything(seed)
    optimizer = torch.optim.Adam(head.parameters(), lr=learning_rate, weight_decay=1e-4)
    started = time.perf_counter()
    best_accuracy, best_state, checkpoints = -1.0, None, {}
    for epoch in range(1, max(epoch_counts) + 1):
        head.train()
        for inputs, labels in dataset.loader("train", shuffle=True, seed=seed + epoch):
            with torch.no_grad():
                features = backbone(inputs)
            loss = nn.functional.cross_entropy(head(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        head.eval()
        correct = count = 0
        with torch.inference_mode():
            for inputs, labels in dataset.loader("validation"):
                correct += int((head(backbone(inputs)).argmax(1) == labels).sum())
                count += len(labels)
        if correct / count > best_accuracy:
            best_accuracy, best_state = correct / count, copy.deepcopy(head.state_dict())
        if epoch in epoch_counts:
            elapsed = time.perf_counter() - started
            current = copy.deepcopy(head.state_dict())
            head.load_state_dict(best_state)
            checkpoints[epoch] = {"seconds": elapsed, "accuracy": _test_accuracy(model, dataset)}
            head.load_state_dict(current)
            started = time.perf_counter() - elapsed
    return checkpoints


def run(args, quick: bool) -> dict:
    from tl_engine import model_factory

    plan = dict(QUICK if quick else FULL)
    samples = args.samples or plan["samples"]
    image_size = args.image_size or plan["image_size"]
    epoch_counts = args.epochs or plan["epochs"]
    rows = []
    folder = common.image_folder(args.work_dir / f"fashion-{samples}", samples)
    for name in args.models or plan["models"]:
        model = model_factory.get_model(name, "pytorch", image_size=image_size, head_hidden_units=256)
        dataset = common.image_dataset(folder, model, args.batch_size)
        common.warm_up(model.backbone, dataset)
        tl_results = {}
        for epochs in epoch_counts:
            started = time.perf_counter()
            model.train(dataset, epochs=epochs, learning_rate=1e-3, seed=0)
            tl_results[epochs] = {"seconds": time.perf_counter() - started,
                                  "accuracy": _test_accuracy(model, dataset)}
        plain = plain_training(model, dataset, epoch_counts, learning_rate=1e-3, seed=0)
        for epochs in epoch_counts:
            tl_row, plain_row = tl_results[epochs], plain[epochs]
            rows.append({"model": name, "epochs": epochs, "tl_seconds": round(tl_row["seconds"], 1),
                         "plain_seconds": round(plain_row["seconds"], 1),
                         "speedup": round(plain_row["seconds"] / tl_row["seconds"], 2),
                         "tl_accuracy": tl_row["accuracy"], "plain_accuracy": plain_row["accuracy"],
                         "accuracy_gap_points": round(100 * (tl_row["accuracy"] - plain_row["accuracy"]), 2),
                         "train_images": len(dataset.splits["train"]), "threads": args.threads})
    return {"settings": {"samples": samples, "image_size": image_size, "epochs": epoch_counts,
                         "batch_size": args.batch_size, "head_hidden_units": 256, "learning_rate": 1e-3},
            "rows": rows}
