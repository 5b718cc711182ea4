"""The behaviour every tl classifier shares: ranking predictions, evaluating a subset and exporting a folder.

A subclass provides `name`, `class_names`, `_check_dataset(dataset)`, `predict_logits(batch)` and
`save_to(directory, extra_metadata)`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from tqdm.auto import tqdm

from tl_engine.errors import ArtifactError
from tl_engine.metrics import classification_report
from tl_engine.store import METADATA_FILE, atomic_directory, describe_format, read_metadata, write_json_atomic

logger = logging.getLogger(__name__)


class Classifier:
    """The framework-independent half of a classifier."""

    name: str
    class_names: list[str]
    # The `format` that this class's FP32 exports record in tl_metadata.json.
    model_format: str = ""

    @classmethod
    def read_export(cls, model_dir: Path) -> dict:
        """Read the metadata of a folder this class exported; a folder of another format raises ArtifactError."""
        metadata = read_metadata(model_dir)
        if metadata.get("format") != cls.model_format:
            raise ArtifactError(f"{model_dir} contains {describe_format(metadata.get('format'))}, which this "
                                "command cannot load. Pass the FP32 model folder that `tl train` wrote.")
        return metadata

    def restore_training_record(self, metadata: dict) -> None:
        """Take the training history and settings of a loaded model from its metadata."""
        self.history = metadata.get("history", [])
        self.training_settings = metadata.get("training", {})

    def write_metadata(self, directory: Path, extra_metadata: dict | None = None) -> dict:
        """Write `tl_metadata.json` (the model's metadata plus `extra_metadata`) into `directory`; return it."""
        metadata = {**self.metadata(), **(extra_metadata or {})}
        write_json_atomic(directory / METADATA_FILE, metadata)
        return metadata

    def start_training(self, dataset, batch_size: int | None, seed: int) -> None:
        """Prepare a training run: set the batch size, check the dataset, seed, and build a new head."""
        if batch_size:
            dataset.batch_size = batch_size
        self.class_names = []
        self._check_dataset(dataset)
        # Seed before the new head is built, so its initial weights repeat too.
        self.seed(seed)
        self.set_classes(dataset.class_names)

    def seed(self, seed: int) -> None:
        """Seed Python, NumPy and torch; a TensorFlow classifier seeds TensorFlow instead."""
        from tl_engine.models import torch_training

        torch_training.seed_everything(seed)

    def rank(self, logits: torch.Tensor, top_k: int) -> list[dict]:
        """Turn a batch of logits into one dictionary per input: `class_name`, `class_index`, `probability`, `top_k`."""
        probabilities = torch.softmax(logits, dim=1)
        top = probabilities.topk(min(top_k, len(self.class_names)), dim=1)
        results = []
        for values, indices in zip(top.values.tolist(), top.indices.tolist()):
            ranked = [{"class_name": self.class_names[i], "class_index": i, "probability": round(v, 6)}
                      for v, i in zip(values, indices)]
            results.append({**ranked[0], "top_k": ranked})
        return results

    def evaluate(self, dataset, subset: str = "test", progress: bool = False) -> dict:
        """Return accuracy, per-class precision and recall and the confusion matrix on one subset."""
        self._check_dataset(dataset)
        labels, predictions = [], []
        for inputs, batch_labels in tqdm(dataset.loader(subset), desc=f"evaluate ({subset})",
                                         disable=not progress, unit="batch"):
            predictions += self.predict_logits(inputs).argmax(1).tolist()
            labels += [int(label) for label in batch_labels]
        return classification_report(labels, predictions, self.class_names)

    def export(self, output_dir: str | Path, extra_metadata: dict | None = None) -> Path:
        """Write the model and `tl_metadata.json` to a new `output_dir`, atomically.

        `extra_metadata` adds keys to the metadata file, for example an evaluation report.
        """
        output_dir = Path(output_dir)
        with atomic_directory(output_dir) as temporary:
            self.save_to(temporary, extra_metadata)
        logger.info("Exported %s to %s", self.name, output_dir)
        return output_dir
