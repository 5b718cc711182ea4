"""The part of an image classifier that every framework shares: preprocessing, dataset checks, the
training flow, inputs and metadata.

A framework subclass provides `backbone`, `head`, `model`, `feature_dim`, `set_classes`,
`extract_features`, the training hooks (`_prepare_backbone`, `_init_norm_from_features`,
`_fit_head`, `_fit_full`, `_finish_training`), `predict_logits`, `save_to` and `load`. It reads images through the
dataset's shared loader, so one validation of folders, files and classes serves every framework.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tl_engine.catalog import ModelEntry
from tl_engine.errors import DatasetError
from tl_engine.models.classifier import Classifier


class ImageClassifier(Classifier):
    """A pretrained image backbone with a new head for the dataset's classes."""

    use_case = "image_classification"
    framework = ""

    def __init__(self, entry: ModelEntry, image_size: int | None = None, head_hidden_units: int = 0,
                 dropout: float = 0.2):
        self.entry = entry
        self.name = entry.name
        self.image_size = int(image_size or entry.input_size)
        self.head_hidden_units = int(head_hidden_units)
        self.dropout = float(dropout)
        self.class_names: list[str] = []
        self.history: list[dict] = []
        self.training_settings: dict = {}

    @property
    def preprocessing(self) -> dict:
        """How inputs must be prepared for this model; pass it to `dataset.preprocess`."""
        return {"kind": "image", "input_size": self.image_size,
                "mean": list(self.entry.preprocessing["mean"]), "std": list(self.entry.preprocessing["std"])}

    def _check_dataset(self, dataset) -> None:
        if dataset.preprocessing != self.preprocessing:
            dataset.preprocess(self.preprocessing, dataset.batch_size)
        if self.class_names and list(dataset.class_names) != self.class_names:
            raise DatasetError(f"The dataset's classes {dataset.class_names} differ from the model's classes "
                               f"{self.class_names}. Use a dataset with the same class folders.")

    def train(self, dataset, output_dir: str | Path | None = None, epochs: int = 10, learning_rate: float = 1e-3,
              batch_size: int | None = None, seed: int = 0, fine_tune: bool = False,
              features: dict[str, tuple[np.ndarray, np.ndarray]] | None = None, progress: bool = False) -> list[dict]:
        """Train a new head (frozen backbone, the default) or the whole network (`fine_tune=True`).

        `features` takes cached backbone outputs per subset ({"train": (x, y), "validation": (x, y)})
        so a head retrain does not run the backbone again. When `output_dir` is given the trained
        model is exported there. Returns the per-epoch history.
        """
        self._prepare_backbone(fine_tune)
        self.start_training(dataset, batch_size, seed)
        started = time.perf_counter()
        if fine_tune:
            self._init_norm_from_features(self.extract_features(dataset, "train", progress)[0])
            self.history = self._fit_full(dataset, epochs, learning_rate, seed, progress)
        else:
            if features is None:
                features = {subset: self.extract_features(dataset, subset, progress)
                            for subset in ("train", "validation") if dataset.splits[subset]}
            self._init_norm_from_features(features["train"][0])
            self.history = self._fit_head(features, epochs, dataset.batch_size, learning_rate, seed, progress)
        self._finish_training()
        self.training_settings = {"epochs": epochs, "learning_rate": learning_rate, "batch_size": dataset.batch_size,
                                  "seed": seed, "fine_tune": fine_tune,
                                  "seconds": round(time.perf_counter() - started, 2)}
        if output_dir is not None:
            self.export(output_dir)
        return self.history

    def _finish_training(self) -> None:
        """Put the model back in inference mode after training; nothing to do unless a framework needs it."""

    def image_batch(self, inputs):
        """Return a float32 batch tensor `[N, 3, H, W]` for one image path, a PIL image, a list of them, or a
        preprocessed batch: a torch tensor, a NumPy array or a TensorFlow tensor (NHWC or NCHW)."""
        import torch
        from PIL import Image

        from tl_engine.datasets.images import load_rgb, to_rgb
        from tl_engine.datasets.torch_images import build_transform

        if isinstance(inputs, torch.Tensor):
            return inputs if inputs.dim() == 4 else inputs.unsqueeze(0)
        if isinstance(inputs, np.ndarray) or type(inputs).__module__.startswith("tensorflow"):
            # An array or a TensorFlow tensor of preprocessed images: NHWC (TensorFlow's layout) or NCHW.
            array = np.asarray(inputs, dtype=np.float32)
            array = array if array.ndim == 4 else array[np.newaxis]
            batch = torch.from_numpy(np.ascontiguousarray(array))
            return batch.permute(0, 3, 1, 2).contiguous() if array.shape[-1] == 3 else batch
        items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        transform = build_transform(self.preprocessing)
        images = []
        for item in items:
            image = to_rgb(item) if isinstance(item, Image.Image) else load_rgb(Path(item))
            images.append(transform(image))
        return torch.stack(images)

    def predict(self, inputs, top_k: int = 1) -> list[dict]:
        """Predict classes for a batch tensor, one image path, a PIL image, or a list of paths or images.

        A preprocessed batch may be a torch tensor, a NumPy array or a TensorFlow tensor, NHWC or NCHW.
        Returns one dictionary per input: `class_name`, `probability` and the `top_k` classes.
        """
        return self.rank(self.predict_logits(self.image_batch(inputs)), top_k)

    def base_metadata(self, model_format: str, weights_file: str, parameters: int) -> dict:
        """Return the metadata keys that every image model writes beside its weights."""
        return {"model_name": self.name, "framework": self.framework, "use_case": self.use_case,
                "hub": self.entry.hub, "hub_id": self.entry.hub_id, "class_names": self.class_names,
                "preprocessing": self.preprocessing, "format": model_format, "weights_file": weights_file,
                "head": {"feature_dim": self.feature_dim, "hidden_units": self.head_hidden_units,
                         "dropout": self.dropout},
                "training": self.training_settings, "history": self.history, "parameters": parameters}
