"""Image classifiers in TensorFlow: a TensorFlow Hub feature vector in `tf_keras` with a new head.

The backbone is `hub.KerasLayer(handle)`, which works in `tf_keras` (Keras 2) only; Keras 3
rejects it. Inputs are NHWC float32 images with values in [0, 1], the TensorFlow Hub convention.
Images come through the dataset's shared loader, so folders, bad files and classes are checked the
same way as for PyTorch.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tl_engine import feature_files
from tl_engine.catalog import ModelEntry, tfhub_module_dir
from tl_engine.errors import ArtifactError, DatasetError
from tl_engine.models import tf_training
from tl_engine.models.image_classifier import ImageClassifier
from tl_engine.tf_runtime import tensorflow, tf_keras

logger = logging.getLogger(__name__)

SAVED_MODEL_DIR = "saved_model"
# The L2 penalty on the head's kernels, matching the PyTorch head's Adam weight decay of 1e-4.
HEAD_L2 = 5e-5


def nhwc(inputs) -> np.ndarray:
    """Return a batch as an NHWC float32 array: a `[N, 3, H, W]` torch tensor is transposed, arrays pass."""
    if hasattr(inputs, "permute"):
        return inputs.permute(0, 2, 3, 1).contiguous().numpy()
    return np.asarray(inputs, dtype=np.float32)


def build_head(num_classes: int, hidden_units: int = 0, dropout: float = 0.2):
    """Build a classification head: standardization (adapted to the features later), dropout, an optional
    hidden layer, then the class logits."""
    keras = tf_keras()
    regularizer = keras.regularizers.L2(HEAD_L2)
    layers = [keras.layers.Normalization(axis=-1, name="norm"), keras.layers.Dropout(dropout, name="dropout")]
    if hidden_units:
        layers += [keras.layers.Dense(hidden_units, activation="relu", kernel_regularizer=regularizer,
                                      name="hidden"),
                   keras.layers.Dropout(dropout, name="hidden_dropout")]
    layers.append(keras.layers.Dense(num_classes, kernel_regularizer=regularizer, name="logits"))
    return keras.Sequential(layers, name="head")


def converted_backbone_note(handle: str) -> dict | None:
    """Return the note `tl setup` left beside a cached hub module it converted from other weights, if any."""
    from tl_engine.models.tf_hub import CONVERSION_FILE

    if not handle.startswith(("http://", "https://")):
        return None
    path = tfhub_module_dir(handle) / CONVERSION_FILE
    return json.loads(path.read_text()) if path.is_file() else None


class TFImageClassifier(ImageClassifier):
    """A TensorFlow Hub image feature vector fine-tuned for new classes, in `tf_keras`.

    `model` is the `tf_keras.Model` (backbone then head) once the classes are known.

    Example:
        >>> model = get_model("mobilenet_v2", "tensorflow", image_size=128)
        >>> dataset.preprocess(model.preprocessing, batch_size=64)
        >>> model.train(dataset, output_dir="out/mobilenet_tf", epochs=10)
        >>> model.evaluate(dataset)["accuracy"]
    """

    framework = "tensorflow"
    training_loops = tf_training
    model_format = "tf_saved_model"

    def __init__(self, entry: ModelEntry, image_size: int | None = None, head_hidden_units: int = 0,
                 dropout: float = 0.2, pretrained: bool = True):
        super().__init__(entry, image_size, head_hidden_units, dropout)
        self.head = None
        self.backbone = None
        self.feature_dim = 0
        self._model = None
        self._functions: dict = {}
        self._from_export = not pretrained
        if pretrained:
            self._load_backbone(trainable=False)

    def _load_backbone(self, trainable: bool) -> None:
        if self.entry.hub == "keras_applications":
            from tl_engine.models.keras_applications import application_backbone

            self.backbone = application_backbone(self.entry, self.image_size, trainable)
        else:
            from tl_engine.models.tf_hub import hub_layer

            self.backbone = hub_layer(self.entry.hub_id, trainable=trainable)
        self._functions.clear()
        probe = np.zeros((1, self.image_size, self.image_size, 3), dtype=np.float32)
        self.feature_dim = int(self.backbone(probe).shape[-1])

    @property
    def model(self):
        """The whole network, backbone then head, as one `tf_keras.Model` taking NHWC images in [0, 1]."""
        if self.head is None:
            raise DatasetError(f"{self.name} has no head yet: train it first, or load a trained model.")
        if self._model is None:
            keras = tf_keras()
            images = keras.Input((self.image_size, self.image_size, 3), name="images")
            self._model = keras.Model(images, self.head(self.backbone(images)), name=self.name)
        return self._model

    def set_classes(self, class_names: Sequence[str]) -> None:
        """Replace the head with a new one sized for `class_names`."""
        self.class_names = list(class_names)
        self.head = build_head(len(self.class_names), self.head_hidden_units, self.dropout)
        self.head.build((None, self.feature_dim))
        self._model = None
        self._functions.clear()

    def seed(self, seed: int) -> None:
        """Seed Python, NumPy and TensorFlow."""
        tf_training.seed_everything(seed)

    def _function(self, name: str, body):
        """Return a cached `tf.function` of `body`, so repeated batches run as one graph."""
        if name not in self._functions:
            self._functions[name] = tensorflow().function(body, reduce_retracing=True)
        return self._functions[name]

    @contextlib.contextmanager
    def _feature_extractor(self):
        """Yield a function from an image batch to the frozen backbone's features as a NumPy array."""
        backbone = self._function("features", lambda images: self.backbone(images, training=False))
        yield lambda inputs: backbone(nhwc(inputs)).numpy()

    def _prepare_backbone(self, fine_tune: bool) -> None:
        if self._from_export:
            raise ArtifactError(f"{self.name} was loaded from an export, which has no hub backbone to train. "
                                f"Train a new model: get_model({self.name!r}, 'tensorflow').")
        if fine_tune != self.backbone.trainable:
            self._load_backbone(trainable=fine_tune)

    def _finish_training(self) -> None:
        # The cached graphs traced the weights before training; trace them again on the next call.
        self._functions.clear()

    def _init_norm_from_features(self, train_features) -> None:
        # Set the statistics that `adapt` would measure, read block by block so a FeatureFile works too.
        mean, std = feature_files.mean_and_std(train_features)
        norm = self.head.get_layer("norm")
        norm.set_weights([mean, np.square(std), np.int64(len(train_features))])
        norm.finalize_state()

    def predict_logits(self, inputs):
        """Return the logits of a batch (an NCHW torch tensor or an NHWC array) as a torch tensor."""
        import torch

        model = self.model
        forward = self._function("logits", lambda images: model(images, training=False))
        return torch.from_numpy(forward(nhwc(inputs)).numpy())

    def metadata(self) -> dict:
        """Return the metadata written beside the SavedModel, the same keys as a PyTorch image model's."""
        metadata = self.base_metadata(self.model_format, SAVED_MODEL_DIR, int(self.model.count_params()))
        note = converted_backbone_note(self.entry.hub_id)
        if note:
            metadata["backbone_source"] = note
        return metadata

    def save_to(self, directory: Path, extra_metadata: dict | None = None) -> dict:
        """Write the SavedModel and metadata into an existing empty directory; return the metadata."""
        self.model.save(directory / SAVED_MODEL_DIR, include_optimizer=False, save_format="tf")
        return self.write_metadata(directory, extra_metadata)

    @classmethod
    def load(cls, model_dir: str | Path, entry: ModelEntry) -> "TFImageClassifier":
        """Load an exported SavedModel. The hub is not needed, because the SavedModel contains the backbone too."""
        model_dir = Path(model_dir)
        metadata = cls.read_export(model_dir)
        saved_model = model_dir / metadata.get("weights_file", SAVED_MODEL_DIR)
        if not (saved_model / "saved_model.pb").is_file():
            raise ArtifactError(f"SavedModel {saved_model} is missing; re-export the model.")
        head = metadata["head"]
        instance = cls(entry, image_size=metadata["preprocessing"]["input_size"],
                       head_hidden_units=head["hidden_units"], dropout=head["dropout"], pretrained=False)
        model = tf_keras().models.load_model(saved_model, compile=False)
        instance._model = model
        instance.head = model.get_layer("head")
        instance.backbone = next(layer for layer in model.layers[1:] if layer.name != "head")
        instance.feature_dim = int(head["feature_dim"])
        instance.class_names = list(metadata["class_names"])
        instance.restore_training_record(metadata)
        return instance
