"""Training loops for PyTorch classifiers: a head on cached features, or the whole network on images."""

from __future__ import annotations

import copy
import logging
import random

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that a training run repeats exactly on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _run_epoch(model: nn.Module, batches, optimizer: torch.optim.Optimizer | None) -> tuple[float, float]:
    """Run one pass over `batches`; train when an optimizer is given. Return sample-averaged loss and accuracy."""
    model.train(optimizer is not None)
    total_loss, correct, count = 0.0, 0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for inputs, labels in batches:
            logits = model(inputs)
            loss = nn.functional.cross_entropy(logits, labels)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += float(loss.detach()) * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            count += len(labels)
    return total_loss / max(count, 1), correct / max(count, 1)


def _feature_batches(features, labels: torch.Tensor, batch_size: int, generator=None):
    """Yield `(features, labels)` tensors of the rows in a random order (with `generator`) or in order.

    `features` is an array or a FeatureFile, and only the rows of one batch are read at a time.
    """
    order = torch.randperm(len(labels), generator=generator) if generator is not None else torch.arange(len(labels))
    for start in range(0, len(labels), batch_size):
        index = order[start:start + batch_size]
        yield torch.from_numpy(features[index.numpy()]), labels[index]


def fit(model: nn.Module, train_batches, validation_batches, epochs: int, learning_rate: float,
        weight_decay: float = 1e-4, progress: bool = False, description: str = "training") -> list[dict]:
    """Train with Adam, keeping the weights of the epoch with the best validation accuracy.

    `train_batches` and `validation_batches` are callables returning a fresh iterable of
    `(inputs, labels)` per epoch; `validation_batches` may be None. Returns one row of
    epoch-averaged metrics per epoch.
    """
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad],
                                 lr=learning_rate, weight_decay=weight_decay)
    history: list[dict] = []
    best_accuracy, best_state = -1.0, None
    for epoch in tqdm(range(1, epochs + 1), desc=description, disable=not progress, unit="epoch"):
        train_loss, train_accuracy = _run_epoch(model, train_batches(), optimizer)
        row = {"epoch": epoch, "train_loss": round(train_loss, 5), "train_accuracy": round(train_accuracy, 5)}
        if validation_batches is not None:
            validation_loss, validation_accuracy = _run_epoch(model, validation_batches(), None)
            row.update(validation_loss=round(validation_loss, 5), validation_accuracy=round(validation_accuracy, 5))
            if validation_accuracy > best_accuracy:
                best_accuracy, best_state = validation_accuracy, copy.deepcopy(model.state_dict())
        history.append(row)
        logger.info("%s epoch %d/%d: %s", description, epoch, epochs, row)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def fit_head(head: nn.Module, train: tuple, validation: tuple | None, epochs: int, batch_size: int,
             learning_rate: float, seed: int, progress: bool = False) -> list[dict]:
    """Train a head on cached backbone features: `(features, labels)` pairs, where the features are
    an array of shape [samples, features] or a FeatureFile, and the labels an array of shape [samples]."""
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    train_x, train_y = train[0], torch.from_numpy(np.asarray(train[1])).long()

    def train_batches():
        return _feature_batches(train_x, train_y, batch_size, generator)

    validation_batches = None
    if validation is not None and len(validation[1]):
        validation_x, validation_y = validation[0], torch.from_numpy(np.asarray(validation[1])).long()

        def validation_batches():
            return _feature_batches(validation_x, validation_y, batch_size)

    return fit(head, train_batches, validation_batches, epochs, learning_rate, progress=progress,
               description="head training")


def fit_full(model: nn.Module, dataset, epochs: int, learning_rate: float, seed: int,
             progress: bool = False) -> list[dict]:
    """Fine-tune every layer on images from a preprocessed dataset's train and validation subsets."""
    seed_everything(seed)

    def train_batches():
        return dataset.loader("train", shuffle=True, seed=seed)

    validation_batches = (lambda: dataset.loader("validation")) if dataset.splits["validation"] else None
    return fit(model, train_batches, validation_batches, epochs, learning_rate, weight_decay=0.0,
               progress=progress, description="fine-tuning")
