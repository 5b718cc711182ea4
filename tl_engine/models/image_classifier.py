"""The part of an image classifier that every framework shares: preprocessing, dataset checks, the
training flow, inputs and metadata.

A framework subclass provides `backbone`, `head`, `model`, `feature_dim`, `set_classes`,
`_feature_extractor`, `training_loops` (the module with its `fit_head` and `fit_full`), the training
hooks (`_prepare_backbone`, `_init_norm_from_features`, `_finish_training`), `predict_logits`,
`save_to` and `load`. It reads images through the
dataset's shared loader, so one validation of folders, files and classes serves every framework.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from tl_engine.catalog import ModelEntry
from tl_engine.errors import DatasetError
from tl_engine.feature_files import FeatureFile, FeatureWriter
from tl_engine.models.classifier import Classifier

logger = logging.getLogger(__name__)

# Training features larger than this go to a temporary folder and are read back batch by batch.
FEATURES_IN_MEMORY_LIMIT_BYTES = 512 * 2**20


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

    def extract_features(self, dataset, subset: str, progress: bool = False,
                         to_file: str | Path | None = None) -> tuple[np.ndarray | FeatureFile, np.ndarray]:
        """Run the frozen backbone over one subset; return float32 features and int64 labels.

        Images are read batch by batch. The features go into one array allocated up front or, with
        `to_file`, straight into that `.npy` file, returned as a `FeatureFile`. Memory then contains one
        batch of features, whatever the subset's size.
        """
        self._check_dataset(dataset)
        count = len(dataset.subset_indices(subset))
        labels = np.empty(count, dtype=np.int64)
        features = np.empty((count, self.feature_dim), dtype=np.float32) if to_file is None else None
        writer = FeatureWriter(to_file, count, self.feature_dim) if to_file is not None else None
        position = 0
        try:
            with self._feature_extractor() as backbone:
                for inputs, batch_labels in tqdm(dataset.loader(subset), desc=f"features ({subset})",
                                                 disable=not progress, unit="batch"):
                    block = backbone(inputs)
                    end = position + len(block)
                    if writer is None:
                        features[position:end] = block
                    else:
                        writer.write(block)
                    labels[position:end] = np.asarray(batch_labels, dtype=np.int64)
                    position = end
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        return (features if writer is None else writer.close()), labels

    def train(self, dataset, output_dir: str | Path | None = None, epochs: int = 10, learning_rate: float = 1e-3,
              batch_size: int | None = None, seed: int = 0, fine_tune: bool = False,
              features: dict[str, tuple] | None = None, progress: bool = False) -> list[dict]:
        """Train a new head (frozen backbone, the default) or the whole network (`fine_tune=True`).

        `features` takes cached backbone outputs per subset ({"train": (x, y), "validation": (x, y)})
        so a head retrain does not run the backbone again. `x` may be an array or a `FeatureFile`
        (from `extract_features(..., to_file=...)`), which is read batch by batch. Without `features`,
        the backbone runs once, and features above FEATURES_IN_MEMORY_LIMIT_BYTES go to a temporary
        folder. When `output_dir` is given the trained model is exported there. Returns the per-epoch history.
        """
        self._prepare_backbone(fine_tune)
        self.start_training(dataset, batch_size, seed)
        started = time.perf_counter()
        if fine_tune:
            # Only the features' mean and spread are needed, so they pass through a temporary file.
            with tempfile.TemporaryDirectory(prefix="tl-features-") as folder:
                train_features, _ = self.extract_features(dataset, "train", progress, Path(folder) / "train.npy")
                self._init_norm_from_features(train_features)
                train_features.close()
            self.history = self.training_loops.fit_full(self.model, dataset, epochs, learning_rate, seed, progress)
        else:
            with contextlib.ExitStack() as cleanup:
                if features is None:
                    features = self._training_features(dataset, progress, cleanup)
                self._init_norm_from_features(features["train"][0])
                self.history = self.training_loops.fit_head(self.head, features["train"], features.get("validation"),
                                                            epochs, dataset.batch_size, learning_rate, seed, progress)
        self._finish_training()
        self.training_settings = {"epochs": epochs, "learning_rate": learning_rate, "batch_size": dataset.batch_size,
                                  "seed": seed, "fine_tune": fine_tune,
                                  "seconds": round(time.perf_counter() - started, 2)}
        if output_dir is not None:
            self.export(output_dir)
        return self.history

    def _training_features(self, dataset, progress: bool, cleanup: contextlib.ExitStack) -> dict:
        """Extract the train and validation features, into memory or, when they are larger than
        FEATURES_IN_MEMORY_LIMIT_BYTES, into a temporary folder that `cleanup` removes."""
        subsets = [subset for subset in ("train", "validation") if dataset.splits[subset]]
        size = sum(len(dataset.subset_indices(subset)) for subset in subsets) * self.feature_dim * 4
        if size <= FEATURES_IN_MEMORY_LIMIT_BYTES:
            return {subset: self.extract_features(dataset, subset, progress) for subset in subsets}
        folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="tl-features-")))
        logger.info("The features take %d MB, so they are read from %s during training", size // 2**20, folder)
        return {subset: self.extract_features(dataset, subset, progress, folder / f"{subset}.npy")
                for subset in subsets}

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
            # A TensorFlow tensor's array is read-only, which torch warns about, so it is copied.
            array = np.ascontiguousarray(array) if array.flags.writeable else array.copy()
            batch = torch.from_numpy(array)
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
