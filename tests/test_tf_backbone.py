"""The TensorFlow MobileNetV2 converted from torchvision's ImageNet weights, and its TensorFlow Hub cache."""

from __future__ import annotations

import copy
import importlib
import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from skimage import data as skimage_data

from tl_engine.catalog import tfhub_module_dir
from tl_engine.errors import WeightsNotFoundError
from tl_engine.models.tf_converted import (
    FEATURE_SIZE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MAX_CONVERSION_ERROR,
    MOBILENET_V2_HANDLE,
    TORCH_WEIGHTS_FILE,
    build_mobilenet_v2_features,
    load_torch_state_dict,
    seed_tfhub_cache,
)
from tl_engine.models.tf_hub import CONVERSION_FILE, hub_layer
from tl_engine.tf_runtime import tensorflow, tensorflow_hub

ESPRESSO_CLASS = 967  # ImageNet-1k class index of "espresso"

# Largest differences between converted and torchvision features on the images of these tests, with
# features up to 6.0: Fashion-MNIST at 64 px 1.7e-5 (Keras model) and 2.0e-5 (cached SavedModel through
# hub.KerasLayer), photos at 224 px 4.1e-6 (both). Measured with tf_keras 2.21 and torch 2.14.1 on a
# 2-core Intel Xeon (x86_64, oneDNN on), two runs with the same result.
FEATURE_TOLERANCE = 3e-5


def unit_float_rgb(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 image (grey or RGB) to size x size RGB float32 with values in [0, 1]."""
    resized = Image.fromarray(image).convert("RGB").resize((size, size), Image.BILINEAR)
    return np.asarray(resized, dtype=np.float32) / 255.0


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """scikit-image's `coffee` and `chelsea` at 224 x 224, NHWC in [0, 1]."""
    return np.stack([unit_float_rgb(skimage_data.coffee(), 224), unit_float_rgb(skimage_data.chelsea(), 224)])


@pytest.fixture(scope="module")
def fashion_images(fashion_mnist) -> np.ndarray:
    """The first four Fashion-MNIST training images as RGB at 64 x 64, NHWC in [0, 1]."""
    images, _labels = fashion_mnist
    return np.stack([unit_float_rgb(image, 64) for image in images[:4]])


@pytest.fixture(scope="module")
def torchvision_mobilenet(torch_hub_cache) -> tuple[torch.nn.Module, torch.nn.Linear]:
    """torchvision's ImageNet MobileNetV2 with `classifier` replaced by Identity, and its final Linear layer."""
    model = torchvision.models.mobilenet_v2(weights=torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1).eval()
    linear = model.classifier[1]
    features = copy.deepcopy(model)
    features.classifier = torch.nn.Identity()
    return features, linear


@pytest.fixture(scope="module")
def converted_backbone(torch_hub_cache):
    """The tf_keras MobileNetV2 built from the seeded torchvision file."""
    weights_path = Path(torch.hub.get_dir()) / "checkpoints" / TORCH_WEIGHTS_FILE
    return build_mobilenet_v2_features(load_torch_state_dict(weights_path))


@pytest.fixture(scope="session")
def seeded_tfhub_cache(tmp_path_factory, torch_hub_cache) -> Path:
    """A TensorFlow Hub cache folder that `seed_tfhub_cache` has filled; set TFHUB_CACHE_DIR to use it."""
    cache = tmp_path_factory.mktemp("tfhub_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFHUB_CACHE_DIR", str(cache))
        seed_tfhub_cache()
    return cache


@pytest.fixture
def offline_tfhub(monkeypatch):
    """Make every TensorFlow Hub download fail with URLError, as it does without a network."""
    tensorflow_hub()
    resolver = importlib.import_module("tensorflow_hub.resolver")

    def fail_download(self, request):
        raise urllib.error.URLError("network disabled in this test")

    monkeypatch.setattr(resolver.HttpResolverBase, "_call_urlopen", fail_download)


def torchvision_features(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    normalized = (images - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)
    with torch.no_grad():
        return model(torch.from_numpy(normalized.transpose(0, 3, 1, 2).copy())).numpy()


@pytest.mark.parametrize("batch", ["photos", "fashion_images"])
def test_converted_features_match_torchvision(request, batch, converted_backbone, torchvision_mobilenet):
    """Converted features agree with torchvision's to within 3e-5 (FEATURE_TOLERANCE), on real images."""
    images = request.getfixturevalue(batch)
    features_model, _linear = torchvision_mobilenet

    converted = converted_backbone(images, training=False).numpy()
    expected = torchvision_features(features_model, images)

    assert converted.shape == (len(images), FEATURE_SIZE)
    assert np.abs(expected).max() > 1.0, "torchvision's features are near zero, so the comparison proves nothing"
    assert np.abs(converted - expected).max() <= FEATURE_TOLERANCE


def test_converted_features_classify_coffee_as_espresso(photos, converted_backbone, torchvision_mobilenet):
    features_model, linear = torchvision_mobilenet

    converted = torch.from_numpy(converted_backbone(photos, training=False).numpy())
    expected = torch.from_numpy(torchvision_features(features_model, photos))
    with torch.no_grad():
        converted_classes = linear(converted).argmax(dim=1).tolist()
        torchvision_classes = linear(expected).argmax(dim=1).tolist()

    assert converted_classes[0] == ESPRESSO_CLASS
    assert converted_classes == torchvision_classes


@pytest.mark.parametrize("batch", ["photos", "fashion_images"])
def test_seeded_hub_layer_loads_frozen_offline(request, batch, monkeypatch, seeded_tfhub_cache, offline_tfhub,
                                                converted_backbone, torchvision_mobilenet):
    """The cached SavedModel's features agree with torchvision's to within 3e-5 (FEATURE_TOLERANCE) too."""
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(seeded_tfhub_cache))
    images = request.getfixturevalue(batch)
    features_model, _linear = torchvision_mobilenet

    layer = hub_layer(MOBILENET_V2_HANDLE, trainable=False)
    features = layer(images).numpy()

    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == len(converted_backbone.weights)
    assert features.shape == (len(images), FEATURE_SIZE)
    assert np.abs(features - torchvision_features(features_model, images)).max() <= FEATURE_TOLERANCE


def test_seeded_hub_layer_fine_tunes(monkeypatch, seeded_tfhub_cache, offline_tfhub, converted_backbone):
    tf = tensorflow()
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(seeded_tfhub_cache))
    images = tf.random.stateless_uniform((2, 32, 32, 3), seed=(0, 1))

    layer = hub_layer(MOBILENET_V2_HANDLE, trainable=True)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(images, training=True))
    gradients = tape.gradient(loss, layer.trainable_weights)

    assert len(layer.trainable_weights) == len(converted_backbone.trainable_weights)
    assert all(gradient is not None for gradient in gradients)
    # Fine-tuning updates BatchNormalization's scales and offsets, never its moving statistics.
    assert not any("moving_" in weight.name for weight in layer.trainable_weights)


def test_seed_writes_substitute_record(monkeypatch, seeded_tfhub_cache):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(seeded_tfhub_cache))
    module_dir = tfhub_module_dir(MOBILENET_V2_HANDLE)
    written_at = (module_dir / "saved_model.pb").stat().st_mtime_ns

    record = json.loads((module_dir / CONVERSION_FILE).read_text())

    assert record["converted_substitute"] is True
    assert record["handle"] == MOBILENET_V2_HANDLE
    assert record["source_weights"] == {"file": TORCH_WEIGHTS_FILE, "sha256_prefix": "b0353104"}
    assert 0 < record["check"]["max_abs_difference_vs_torchvision"] <= MAX_CONVERSION_ERROR
    assert seed_tfhub_cache() == [module_dir]
    assert (module_dir / "saved_model.pb").stat().st_mtime_ns == written_at
    assert not [path.name for path in seeded_tfhub_cache.iterdir() if path.name.startswith(".")]


def test_hub_layer_without_cache_raises(monkeypatch, tmp_path, offline_tfhub):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    module_dir = tfhub_module_dir(MOBILENET_V2_HANDLE)

    with pytest.raises(WeightsNotFoundError) as raised:
        hub_layer(MOBILENET_V2_HANDLE, trainable=False)

    message = str(raised.value)
    assert MOBILENET_V2_HANDLE in message
    assert str(module_dir) in message
    assert "make setup" in message
    assert not module_dir.exists()


def test_hub_layer_incomplete_cache_raises(monkeypatch, tmp_path, offline_tfhub):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    module_dir = tfhub_module_dir(MOBILENET_V2_HANDLE)
    module_dir.mkdir()
    (module_dir / "variables").mkdir()

    with pytest.raises(WeightsNotFoundError) as raised:
        hub_layer(MOBILENET_V2_HANDLE, trainable=False)

    assert str(module_dir) in str(raised.value)
    assert "saved_model.pb" in str(raised.value)


def test_seed_without_torch_weights_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    missing = tmp_path / TORCH_WEIGHTS_FILE

    with pytest.raises(WeightsNotFoundError) as raised:
        seed_tfhub_cache(weights_path=missing)

    assert str(missing) in str(raised.value)
    assert "make setup" in str(raised.value)
    assert not tfhub_module_dir(MOBILENET_V2_HANDLE).exists()


def test_uncached_other_handle_names_network_fix(monkeypatch, tmp_path, offline_tfhub):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    handle = "https://tfhub.dev/google/imagenet/resnet_v2_50/feature_vector/5"

    with pytest.raises(WeightsNotFoundError) as raised:
        hub_layer(handle, trainable=False)

    message = str(raised.value)
    assert handle in message
    assert "Connect to the network once" in message
    assert "seeds only mobilenet_v2" in message
