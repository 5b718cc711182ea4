"""What every image classifier shares, whatever its framework: preprocessing, dataset checks, inputs, metadata.

A framework subclass provides `backbone`, `head`, `model`, `feature_dim`, `set_classes`,
`extract_features`, `train`, `predict_logits`, `save_to` and `load`. It reads images through the
dataset's shared loader, so one validation of folders, files and classes serves every framework.
"""

from __future__ import annotations

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
