"""Text classifiers from Hugging Face: a pretrained encoder with a new classification head, fine-tuned whole."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from tl_engine.catalog import ModelEntry
from tl_engine.errors import DatasetError, WeightsNotFoundError
from tl_engine.models import torch_training
from tl_engine.models.classifier import Classifier

logger = logging.getLogger(__name__)

HF_FORMAT = "hf_pretrained"


@contextlib.contextmanager
def _quiet_transformers():
    """Hide transformers' load report (which lists the new head's weights as missing) and its progress bars."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


class LogitsOf(nn.Module):
    """Wraps a `...ForSequenceClassification` model so that `module(batch_dict)` returns the logits tensor."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: dict) -> torch.Tensor:
        return self.model(**inputs).logits


class PositionalLogits(nn.Module):
    """Wraps a `...ForSequenceClassification` model as `module(input_ids, attention_mask)` -> logits, for export."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


class HFTextClassifier(Classifier):
    """A Hugging Face encoder (BERT, MiniLM, RoBERTa, ...) fine-tuned for new text classes.

    `model` is the `transformers` model (a `torch.nn.Module`) once the classes are known, and
    `tokenizer` its tokenizer.

    Example:
        >>> model = get_model("minilm_l6", "pytorch", max_length=64)
        >>> dataset.preprocess(model.preprocessing, batch_size=32)
        >>> model.train(dataset, output_dir="out/minilm", epochs=2)
        >>> model.predict(["A warm, funny film.", "Two hours I will not get back."])
    """

    framework = "pytorch"
    use_case = "text_classification"
    model_format = HF_FORMAT

    def __init__(self, entry: ModelEntry, max_length: int | None = None, source: str | Path | None = None,
                 **_ignored):
        from transformers import AutoConfig, AutoTokenizer

        self.entry = entry
        self.name = entry.name
        self.max_length = int(max_length or entry.input_size)
        self.source = str(source or entry.hub_id)
        self.class_names: list[str] = []
        self.history: list[dict] = []
        self.training_settings: dict = {}
        self._model: nn.Module | None = None
        try:
            self.config = AutoConfig.from_pretrained(self.source)
            self.tokenizer = AutoTokenizer.from_pretrained(self.source)
        except OSError as exc:
            from huggingface_hub import constants

            raise WeightsNotFoundError(
                f"Hugging Face model {self.source!r} is neither in the cache {constants.HF_HUB_CACHE} nor "
                f"downloadable ({exc.__class__.__name__}). Run `tl setup` to seed the cache, or connect to the "
                "network.") from exc

    @property
    def preprocessing(self) -> dict:
        """How texts must be prepared for this model; pass it to `dataset.preprocess`."""
        return {"kind": "text", "tokenizer": self.source, "max_length": self.max_length}

    @property
    def model(self) -> nn.Module:
        """The `transformers` sequence classification model."""
        if self._model is None:
            raise DatasetError(f"{self.name} has no head yet: train it first, or load a trained model.")
        return self._model

    def set_classes(self, class_names: Sequence[str]) -> None:
        """Load the pretrained encoder with a new, randomly initialized head sized for `class_names`."""
        from transformers import AutoModelForSequenceClassification

        self.class_names = list(class_names)
        with _quiet_transformers():
            self._model = AutoModelForSequenceClassification.from_pretrained(
                self.source, num_labels=len(self.class_names), id2label=dict(enumerate(self.class_names)),
                label2id={name: i for i, name in enumerate(self.class_names)}, ignore_mismatched_sizes=True)

    def _check_dataset(self, dataset) -> None:
        if dataset.use_case != self.use_case:
            raise DatasetError(f"{self.name} classifies text, but the dataset contains {dataset.use_case} samples.")
        if dataset.preprocessing != self.preprocessing:
            dataset.preprocess(self.preprocessing, dataset.batch_size)
        if self.class_names and list(dataset.class_names) != self.class_names:
            raise DatasetError(f"The dataset's classes {dataset.class_names} differ from the model's classes "
                               f"{self.class_names}. Use a dataset with the same labels.")

    def train(self, dataset, output_dir: str | Path | None = None, epochs: int = 3, learning_rate: float = 5e-5,
              batch_size: int | None = None, seed: int = 0, fine_tune: bool = True, progress: bool = False,
              **_ignored) -> list[dict]:
        """Fine-tune the whole model on the train subset, keeping the epoch with the best validation accuracy.

        Text models are always fine-tuned whole; `fine_tune` is accepted for a uniform interface.
        When `output_dir` is given the trained model is exported there. Returns the per-epoch history.
        """
        self.start_training(dataset, batch_size, seed)
        started = time.perf_counter()
        self.history = torch_training.fit_full(LogitsOf(self.model), dataset, epochs, learning_rate, seed, progress)
        self.model.eval()
        self.training_settings = {"epochs": epochs, "learning_rate": learning_rate, "batch_size": dataset.batch_size,
                                  "seed": seed, "fine_tune": True, "max_length": self.max_length,
                                  "truncated_texts": getattr(dataset, "truncated", 0),
                                  "seconds": round(time.perf_counter() - started, 2)}
        if output_dir is not None:
            self.export(output_dir)
        return self.history

    def predict_logits(self, inputs: dict) -> torch.Tensor:
        """Return the logits of a tokenized batch."""
        with torch.inference_mode():
            return LogitsOf(self.model.eval())(inputs)

    def predict(self, inputs, top_k: int = 1) -> list[dict]:
        """Predict classes for a string, a list of strings, or a tokenized batch from `dataset.get_batch`.

        Returns one dictionary per input: `class_name`, `class_index`, `probability` and the `top_k` classes.
        """
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, dict):
            inputs = dict(self.tokenizer(list(inputs), padding=True, truncation=True, max_length=self.max_length,
                                         return_tensors="pt"))
        return self.rank(self.predict_logits(inputs), top_k)

    def metadata(self) -> dict:
        """Return the metadata written beside the weights, enough to rebuild the model with no other input."""
        return {"model_name": self.name, "framework": self.framework, "use_case": self.use_case,
                "hub": self.entry.hub, "hub_id": self.entry.hub_id, "class_names": self.class_names,
                "preprocessing": {"kind": "text", "tokenizer": self.entry.hub_id, "max_length": self.max_length},
                "format": HF_FORMAT, "weights_file": "model.safetensors",
                "training": self.training_settings, "history": self.history,
                "parameters": sum(p.numel() for p in self.model.parameters())}

    def save_to(self, directory: Path, extra_metadata: dict | None = None) -> dict:
        """Write the model (safetensors), the tokenizer and the metadata into an existing empty directory."""
        with _quiet_transformers():
            self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        return self.write_metadata(directory, extra_metadata)

    @classmethod
    def load(cls, model_dir: str | Path, entry: ModelEntry) -> "HFTextClassifier":
        """Load a folder written by `export`: safetensors weights and the saved tokenizer, no network."""
        from transformers import AutoModelForSequenceClassification

        model_dir = Path(model_dir)
        metadata = cls.read_export(model_dir)
        instance = cls(entry, max_length=metadata["preprocessing"]["max_length"], source=model_dir)
        instance.class_names = list(metadata["class_names"])
        with _quiet_transformers():
            instance._model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
        instance.restore_training_record(metadata)
        return instance
