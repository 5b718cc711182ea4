"""Keras Applications backbones (`tf_keras.applications`) behind the same interface as TensorFlow Hub layers.

A catalog entry's `hub_id` is `<module>.<constructor>`, for example `resnet50.ResNet50`. The
backbone takes NHWC images in [0, 1], like every tl TensorFlow model, maps them the way the
family's `preprocess_input` expects (the entry's `preprocessing.keras_mode`), and returns the
pooled features of the model built with `include_top=False`. The mapping is a frozen 1x1
convolution, not a Lambda layer, so that a saved model reloads without deserializing Python code.
Keras downloads the ImageNet weights to `~/.keras/models/` on first use; there is no offline copy.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from pathlib import Path

from tl_engine.catalog import ModelEntry
from tl_engine.errors import CatalogError, WeightsNotFoundError
from tl_engine.tf_runtime import tf_keras

logger = logging.getLogger(__name__)


def keras_weights_dir() -> Path:
    """Return the folder where `tf_keras.applications` caches downloaded weights."""
    return Path(os.path.expanduser("~")) / ".keras" / "models"


# Each mode's mapping of [0, 1] RGB images to the model's input, as (channel order, scale, bias) per
# output channel: output[c] = scale[c] * input[order[c]] + bias[c].
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
_IMAGENET_STD = np.array([0.229, 0.224, 0.225])
PREPROCESSING_MODES = {
    # VGG and ResNet v1: BGR pixels in [0, 255] minus the ImageNet means.
    "caffe": ([2, 1, 0], np.full(3, 255.0), -np.array([103.939, 116.779, 123.68])),
    # Xception, Inception, ResNet v2, MobileNet v1 and v2: [-1, 1].
    "tf": ([0, 1, 2], np.full(3, 2.0), np.full(3, -1.0)),
    # DenseNet: ImageNet mean and standard deviation.
    "torch": ([0, 1, 2], 1.0 / _IMAGENET_STD, -_IMAGENET_MEAN / _IMAGENET_STD),
    # EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3: [0, 255] pixels, normalized inside the model.
    "none": ([0, 1, 2], np.full(3, 255.0), np.zeros(3)),
}


def _input_mapping(keras, mode: str):
    if mode not in PREPROCESSING_MODES:
        raise CatalogError(f"Unknown keras_mode {mode!r}. Valid modes: {', '.join(PREPROCESSING_MODES)}.")
    order, scale, bias = PREPROCESSING_MODES[mode]
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    for output_channel, input_channel in enumerate(order):
        kernel[0, 0, input_channel, output_channel] = scale[output_channel]
    layer = keras.layers.Conv2D(3, 1, name="preprocess_input", trainable=False)
    layer.build((None, None, None, 3))
    layer.set_weights([kernel, bias.astype(np.float32)])
    return layer


def application_backbone(entry: ModelEntry, image_size: int, trainable: bool, weights: str | None = "imagenet"):
    """Return a `tf_keras.Model` from [0, 1] images to pooled features, built from a Keras Applications entry.

    `weights=None` builds the architecture with random weights (for tests of the wrapping only).
    """
    keras = tf_keras()
    module_name, _, constructor_name = entry.hub_id.partition(".")
    module = getattr(keras.applications, module_name, None)
    constructor = getattr(module, constructor_name, None)
    if constructor is None:
        raise CatalogError(f"Catalog entry {entry.name!r} names {entry.hub_id!r}, which tf_keras.applications "
                           "does not have. Use `<module>.<constructor>`, for example resnet50.ResNet50.")
    cached = keras_weights_dir() / entry.weights_file
    if weights and not cached.is_file():
        logger.info("Keras weights %s are not in %s; downloading them.", entry.weights_file, cached.parent)
    try:
        base = constructor(include_top=False, weights=weights, pooling="avg",
                           input_shape=(image_size, image_size, 3))
    except Exception as exc:  # Keras raises a bare Exception("URL fetch failure ...") when a download fails
        if not weights or cached.is_file():
            raise
        raise WeightsNotFoundError(
            f"ImageNet weights {entry.weights_file} for {entry.name} ({entry.hub_id}) were not found in "
            f"{cached.parent} and the download failed ({exc}). Connect to the network once, or copy the file "
            "there."
        ) from exc
    mapping = _input_mapping(keras, entry.preprocessing.get("keras_mode", "none"))
    images = keras.Input((image_size, image_size, 3), name="images")
    backbone = keras.Model(images, base(mapping(images), training=False), name=f"{entry.name}_features")
    backbone.trainable = trainable
    mapping.trainable = False
    return backbone
