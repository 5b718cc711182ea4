"""Engine overhead: tl's training and inference loops against minimal hand-written PyTorch loops.

Each pair does the same work at the same batch size and thread count: the same model, data,
optimizer, validation pass and best-epoch copy. The tl side is the public API (`model.train`,
`model.evaluate`, `model.extract_features`); the hand side is the shortest loop a PyTorch user
would write for it. The two sides take turns going first, and each figure is the median of the
repeats.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from bench import common

TITLE = "Engine overhead: tl's loops against hand-written PyTorch loops (same work, same threads)"
COLUMNS = ["loop", "tl_seconds", "hand_seconds", "overhead_pct", "images", "repeats", "threads"]
QUICK = {"samples": 300, "image_size": 64, "epochs": 2, "repeats": 3}
FULL = {"samples": 1000, "image_size": 128, "epochs": 2, "repeats": 4}


def add_arguments(parser) -> None:
    common.add_overhead_arguments(parser)


def hand_features(backbone: nn.Module, loader) -> tuple[torch.Tensor, torch.Tensor]:
    features, labels = [], []
    with torch.inference_mode():
        for inputs, batch_labels in loader:
            features.append(backbone(inputs))
            labels.append(batch_labels)
    return torch.cat(features), torch.cat(labels)


def hand_evaluate(network: nn.Module, loader) -> float:
    correct = count = 0
    network.eval()
    with torch.inference_mode():
        for inputs, labels in loader:
            correct += int((network(inputs).argmax(1) == labels).sum())
            count += len(labels)
    return correct / count


def hand_fit(network: nn.Module, train_batches, validation_batches, epochs: int, learning_rate: float,
             weight_decay: float) -> None:
    """Adam, a validation pass per epoch and a copy of the best epoch's weights: what `fit` does."""
    optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=learning_rate,
                                 weight_decay=weight_decay)
    best, best_state = -1.0, None
    for _ in range(epochs):
        network.train()
        for inputs, labels in train_batches():
            loss = nn.functional.cross_entropy(network(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        accuracy = hand_evaluate(network, validation_batches())
        if accuracy > best:
            best, best_state = accuracy, copy.deepcopy(network.state_dict())
    network.load_state_dict(best_state)


def _loops(model, dataset, epochs: int, batch_size: int) -> dict[str, tuple]:
    """Return, per loop, the tl callable and the hand-written callable that do the same work."""
    train_x, train_y = hand_features(model.backbone, dataset.loader("train"))
    validation_x, validation_y = hand_features(model.backbone, dataset.loader("validation"))
    features = {"train": (train_x.numpy(), train_y.numpy()), "validation": (validation_x.numpy(), validation_y.numpy())}

    def tensor_batches(x, y, shuffle):
        order = torch.randperm(len(y)) if shuffle else torch.arange(len(y))
        return [(x[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(y), batch_size)]

    def hand_head():
        model.set_classes(dataset.class_names)
        model.head.norm.mean.copy_(train_x.mean(0))
        model.head.norm.std.copy_(train_x.std(0, unbiased=False) + 1e-6)
        hand_fit(model.head, lambda: tensor_batches(train_x, train_y, True),
                 lambda: tensor_batches(validation_x, validation_y, False), epochs * 10, 1e-3, 1e-4)

    def hand_fine_tune():
        model.set_classes(dataset.class_names)
        network = model.model
        for parameter in network.parameters():
            parameter.requires_grad_(True)
        stats_x, _ = hand_features(model.backbone, dataset.loader("train"))
        model.head.norm.mean.copy_(stats_x.mean(0))
        model.head.norm.std.copy_(stats_x.std(0, unbiased=False) + 1e-6)
        hand_fit(network, lambda: dataset.loader("train", shuffle=True), lambda: dataset.loader("validation"),
                 epochs, 1e-4, 0.0)
        model.backbone.eval()

    return {
        "feature extraction (train subset)": (lambda: model.extract_features(dataset, "train"),
                                              lambda: hand_features(model.backbone, dataset.loader("train"))),
        # Evaluation runs over the larger train subset, so that each timing spans many batches.
        "evaluation (train subset)": (lambda: model.evaluate(dataset, "train"),
                                      lambda: hand_evaluate(model.model, dataset.loader("train"))),
        f"head training on cached features ({epochs * 10} epochs)": (
            lambda: model.train(dataset, epochs=epochs * 10, features=features), hand_head),
        f"fine-tuning every layer ({epochs} epochs)": (
            lambda: model.train(dataset, epochs=epochs, learning_rate=1e-4, fine_tune=True), hand_fine_tune),
    }


def run(args, quick: bool) -> dict:
    from tl_engine import model_factory

    plan = dict(QUICK if quick else FULL)
    samples = args.samples or plan["samples"]
    image_size = args.image_size or plan["image_size"]
    epochs = (args.epochs or [plan["epochs"]])[0]
    repeats = args.repeats or plan["repeats"]
    folder = common.image_folder(args.work_dir / f"fashion-{samples}", samples)
    model = model_factory.get_model("mobilenet_v2", "pytorch", image_size=image_size, head_hidden_units=256)
    dataset = common.image_dataset(folder, model, args.batch_size)
    model.train(dataset, epochs=1)  # builds the head, so evaluation has a whole network
    common.warm_up(model.model, dataset)
    rows = []
    for loop, (tl_side, hand_side) in _loops(model, dataset, epochs, args.batch_size).items():
        tl_seconds, hand_seconds = common.paired_medians(tl_side, hand_side, repeats)
        rows.append({"loop": loop, "tl_seconds": round(tl_seconds, 3), "hand_seconds": round(hand_seconds, 3),
                     "overhead_pct": round(100 * (tl_seconds / hand_seconds - 1), 1),
                     "images": len(dataset.splits["train"]), "repeats": repeats, "threads": args.threads})
    return {"settings": {"model": "mobilenet_v2", "samples": samples, "image_size": image_size, "epochs": epochs,
                         "batch_size": args.batch_size}, "rows": rows}
