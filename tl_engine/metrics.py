"""Classification metrics and the plots that go with them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def classification_report(labels: Sequence[int], predictions: Sequence[int], class_names: Sequence[str]) -> dict:
    """Compute accuracy, per-class precision, recall and F1, and the confusion matrix (rows are true classes)."""
    y_true = np.asarray(labels, dtype=np.int64)
    y_pred = np.asarray(predictions, dtype=np.int64)
    n = len(class_names)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = {}
    for i, name in enumerate(class_names):
        true_positive = int(confusion[i, i])
        predicted = int(confusion[:, i].sum())
        actual = int(confusion[i, :].sum())
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                           "support": actual}
    accuracy = float((y_true == y_pred).mean()) if len(y_true) else 0.0
    return {"accuracy": round(accuracy, 4), "samples": int(len(y_true)), "per_class": per_class,
            "confusion_matrix": confusion.tolist(), "class_names": list(class_names)}


def plot_confusion_matrix(report: dict, path: Path, title: str) -> Path:
    """Write the report's confusion matrix as a PNG heat map with counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(report["confusion_matrix"])
    names = report["class_names"]
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(names), 0.8 + 0.55 * len(names)))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{title} (accuracy {report['accuracy']:.3f})")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, str(count), ha="center", va="center", fontsize=7,
                color="white" if count > threshold else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_training_curve(history: Sequence[dict], path: Path, title: str) -> Path:
    """Write loss and accuracy per epoch, for the train and validation subsets, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.2))
    for subset in ("train", "validation"):
        if history and f"{subset}_loss" in history[0]:
            loss_ax.plot(epochs, [row[f"{subset}_loss"] for row in history], marker=".", label=subset)
            acc_ax.plot(epochs, [row[f"{subset}_accuracy"] for row in history], marker=".", label=subset)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy")
    loss_ax.legend()
    acc_ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
