"""Text classification datasets: labelled texts from a CSV file or a Hugging Face dataset."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from torch.utils.data import Dataset

from tl_engine.datasets.labelled import LabelledDataset
from tl_engine.datasets.text_csv import TextSample, read_text_csv
from tl_engine.errors import DatasetError

logger = logging.getLogger(__name__)


class TextPairs(Dataset):
    """A torch dataset of `(text, label)` pairs; tokenization happens per batch in the collate function."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int]):
        self.texts, self.labels = list(texts), list(labels)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> tuple[str, int]:
        return self.texts[index], self.labels[index]


class TextClassificationDataset(LabelledDataset):
    """Labelled texts with train, validation and test subsets.

    `preprocess(model.preprocessing, batch_size)` loads the model's tokenizer; batches are then
    tokenized dictionaries (`input_ids`, `attention_mask`) with a label tensor.

    Example:
        >>> ds = TextClassificationDataset.from_csv("reviews.csv", label_column="label", text_column="text")
        >>> ds.shuffle_split(train_pct=0.7, val_pct=0.15, test_pct=0.15, seed=0)
        >>> ds.preprocess(model.preprocessing, batch_size=32)
        >>> inputs, labels = ds.get_batch("test")
    """

    use_case = "text_classification"
    unit = "texts"

    def __init__(self, samples: Sequence[TextSample], class_names: Sequence[str] | None = None, **kwargs):
        super().__init__(samples, class_names, **kwargs)
        self.tokenizer = None

    @classmethod
    def from_csv(cls, path: str | Path, label_column: str | int = 0, text_column: str | int = 1,
                 delimiter: str = ",", header: bool = True, encoding: str = "utf-8",
                 class_names: Sequence[str] | None = None, framework: str = "pytorch") -> "TextClassificationDataset":
        """Load a delimited file; class ids follow `class_names`, or the sorted label values when not given."""
        samples = read_text_csv(path, label_column, text_column, delimiter, header, encoding)
        if class_names is not None:
            unknown = sorted({s.class_name for s in samples} - set(class_names))
            if unknown:
                first = next(s for s in samples if s.class_name in unknown)
                raise DatasetError(f"{first.sample_id}: label {first.class_name!r} is not in class_names "
                                   f"{list(class_names)}. Add it, or fix the label.")
        found = sorted({s.class_name for s in samples})
        if len(found) < 2:
            raise DatasetError(f"The label column {label_column!r} of {path} has one class only ({found[0]!r}). "
                               "Add rows of at least one other class, because classification needs two.")
        return cls(samples, class_names, framework=framework, source=Path(path))

    @classmethod
    def from_huggingface(cls, dataset, label_column: str = "label", text_column: str = "text",
                         class_names: Sequence[str] | None = None, source: str = "The dataset",
                         framework: str = "pytorch") -> "TextClassificationDataset":
        """Wrap one split of a `datasets.Dataset`; integer labels use the dataset's `ClassLabel` names."""
        for column in (label_column, text_column):
            if column not in dataset.column_names:
                raise DatasetError(f"{source} has no column {column!r}. Columns: {', '.join(dataset.column_names)}.")
        feature = dataset.features[label_column]
        names = list(class_names or getattr(feature, "names", None) or [])
        samples = []
        for row_number, row in enumerate(dataset):
            label, text = row[label_column], str(row[text_column] or "").strip()
            if not text:
                raise DatasetError(f"{source} row {row_number}, column {text_column!r}: the text is empty.")
            class_name = names[label] if names and isinstance(label, int) else str(label)
            samples.append(TextSample(f"{source}:{row_number}", text, class_name))
        return cls(samples, names or None, framework=framework, source=source)

    def preprocess(self, preprocessing: dict, batch_size: int = 32) -> None:
        """Load the model's tokenizer and count the texts that its `max_length` truncates.

        The dictionary is the same contract for every dataset kind; text datasets read `tokenizer`
        (a Hugging Face id or a model folder) and `max_length`.
        """
        self._set_preprocessing(preprocessing, batch_size, ("tokenizer", "max_length"))
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(preprocessing["tokenizer"])
        max_length = int(preprocessing["max_length"])
        lengths = [len(ids) for ids in self.tokenizer([s.text for s in self.samples])["input_ids"]]
        truncated = sum(length > max_length for length in lengths)
        if truncated:
            logger.warning("%d of %d texts are longer than max_length=%d tokens and are truncated (longest: %d "
                           "tokens).", truncated, len(lengths), max_length, max(lengths))
        self.truncated = truncated

    @property
    def dataset(self):
        """The `(text, label)` pairs of every sample, as a map-style dataset for a torch DataLoader."""
        if self._torch_dataset is None:
            self._require_preprocessing()
            self._torch_dataset = TextPairs([s.text for s in self.samples], self.labels)
        return self._torch_dataset

    def _collate(self):
        import torch

        tokenizer, max_length = self.tokenizer, int(self.preprocessing["max_length"])

        def collate(batch):
            texts, labels = zip(*batch)
            inputs = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length,
                               return_tensors="pt")
            return dict(inputs), torch.tensor(labels, dtype=torch.long)

        return collate
