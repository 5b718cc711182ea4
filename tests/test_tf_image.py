"""TensorFlow image classifiers on the TensorFlow Hub MobileNetV2 handle: training, export, reload and errors.

The handle resolves offline to the SavedModel that `tfhub_cache` converts from torchvision's ImageNet
weights (tests/test_tf_backbone.py checks the conversion itself).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TRAINING_CLASSES
from tl_engine.dataset_factory import load_dataset
from tl_engine.errors import ArtifactError, DatasetError, WeightsNotFoundError
from tl_engine.model_factory import get_model, load_model
from tl_engine.store import METADATA_FILE, read_metadata

IMAGE_SIZE = 64


def make_dataset(dataset_dir, model):
    dataset = load_dataset(dataset_dir, "image_classification", "tensorflow")
    dataset.shuffle_split(0.6, 0.2, 0.2, seed=0)
    dataset.preprocess(model.preprocessing, 16)
    return dataset


def train_seeded(dataset_dir):
    """MobileNetV2 (TensorFlow) at 64 px with a 64-unit hidden layer, head trained for 3 epochs with seed 0."""
    model = get_model("mobilenet_v2", "tensorflow", image_size=IMAGE_SIZE, head_hidden_units=64)
    dataset = make_dataset(dataset_dir, model)
    model.train(dataset, epochs=3, seed=0)
    return model, dataset


@pytest.fixture(scope="module")
def trained(training_dataset_dir, tfhub_cache):
    return train_seeded(training_dataset_dir)


@pytest.fixture(scope="module")
def exported_dir(trained, tmp_path_factory):
    model, _ = trained
    return model.export(tmp_path_factory.mktemp("tf_export") / "mobilenet_v2")


def test_preprocessing_takes_images_in_unit_range(tfhub_cache):
    model = get_model("mobilenet_v2", "tensorflow", image_size=96)

    assert model.preprocessing == {"kind": "image", "input_size": 96, "mean": [0.0, 0.0, 0.0],
                                   "std": [1.0, 1.0, 1.0]}
    assert model.feature_dim == 1280


def test_train_history_has_every_epoch(trained):
    model, _ = trained

    assert [row["epoch"] for row in model.history] == [1, 2, 3]
    assert set(model.history[0]) == {"epoch", "train_loss", "train_accuracy", "validation_loss",
                                      "validation_accuracy"}


def test_train_learns_the_classes(trained):
    model, dataset = trained

    report = model.evaluate(dataset)

    # Four classes (chance is 0.25); the same run in PyTorch reaches 0.94 (tests/test_torch_image.py).
    assert report["accuracy"] >= 0.75
    assert report["samples"] == len(dataset.splits["test"])
    assert model.class_names == sorted(TRAINING_CLASSES)


def test_train_repeats_with_the_same_seed(trained, training_dataset_dir):
    model, _ = trained

    again, _ = train_seeded(training_dataset_dir)

    assert again.history == model.history


def test_cached_features_train_the_same_head(trained, training_dataset_dir):
    model, dataset = trained
    features = {subset: model.extract_features(dataset, subset) for subset in ("train", "validation")}
    retrained = get_model("mobilenet_v2", "tensorflow", image_size=IMAGE_SIZE, head_hidden_units=64)

    retrained.train(make_dataset(training_dataset_dir, retrained), epochs=3, seed=0, features=features)

    assert retrained.history == model.history


def test_feature_files_train_the_same_head(trained, training_dataset_dir, tmp_path):
    model, dataset = trained
    features = {subset: model.extract_features(dataset, subset, to_file=tmp_path / f"{subset}.npy")
                for subset in ("train", "validation")}
    retrained = get_model("mobilenet_v2", "tensorflow", image_size=IMAGE_SIZE, head_hidden_units=64)

    retrained_dataset = make_dataset(training_dataset_dir, retrained)

    retrained.train(retrained_dataset, epochs=3, seed=0, features=features)

    # Keras shuffles a FeatureFile's rows in another order than an array's, so the heads differ.
    assert [row["epoch"] for row in retrained.history] == [1, 2, 3]
    assert retrained.evaluate(retrained_dataset)["accuracy"] >= 0.75


def test_predict_path_matches_batch(trained):
    model, dataset = trained
    index = dataset.splits["test"][0]
    path = dataset.samples[index].path

    from_path = model.predict(str(path), top_k=2)[0]
    from_batch = model.rank(model.predict_logits(dataset.dataset[index][0].unsqueeze(0)), 2)[0]

    assert from_path["class_name"] == from_batch["class_name"]
    assert from_path["probability"] == pytest.approx(from_batch["probability"], abs=1e-5)
    assert len(from_path["top_k"]) == 2


def test_export_writes_saved_model_and_metadata(exported_dir, trained):
    model, _ = trained

    metadata = read_metadata(exported_dir)

    assert (exported_dir / "saved_model" / "saved_model.pb").is_file()
    assert (exported_dir / METADATA_FILE).is_file()
    assert metadata["format"] == "tf_saved_model"
    assert metadata["framework"] == "tensorflow"
    assert metadata["hub_id"] == "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
    assert metadata["class_names"] == model.class_names
    assert metadata["backbone_source"]["converted_substitute"] is True
    assert set(metadata) >= {"model_name", "use_case", "preprocessing", "head", "training", "history", "parameters"}


def test_load_model_predicts_identically_without_the_hub_cache(exported_dir, trained, tmp_path, monkeypatch):
    model, dataset = trained
    # The export contains the backbone too, so an empty hub cache does not matter.
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "empty-cache"))

    loaded = load_model(exported_dir)

    batch = dataset.get_batch("test")[0]
    assert np.array_equal(loaded.predict_logits(batch).numpy(), model.predict_logits(batch).numpy())
    assert loaded.evaluate(dataset)["accuracy"] == model.evaluate(dataset)["accuracy"]


def test_loaded_model_cannot_train_again(exported_dir, trained):
    _, dataset = trained
    loaded = load_model(exported_dir)

    with pytest.raises(ArtifactError, match="loaded from an export"):
        loaded.train(dataset, epochs=1)


def test_fine_tune_one_step_changes_backbone_weights(training_dataset_dir, tfhub_cache):
    pretrained = {v.name: v.numpy() for v in get_model("mobilenet_v2", "tensorflow", image_size=32).backbone.weights}
    model = get_model("mobilenet_v2", "tensorflow", image_size=32)
    dataset = make_dataset(training_dataset_dir, model)
    dataset.splits["train"] = dataset.splits["train"][:16]

    model.train(dataset, epochs=1, learning_rate=1e-4, seed=0, fine_tune=True)

    assert model.backbone.trainable
    assert len(model.history) == 1
    kernels = [v for v in model.backbone.trainable_weights if "kernel" in v.name]
    assert kernels
    assert all(not np.array_equal(v.numpy(), pretrained[v.name]) for v in kernels)


@pytest.fixture(scope="module")
def int8_dir(trained, tmp_path_factory):
    from tl_engine.quantization import quantize

    model, dataset = trained
    return quantize(model, dataset, tmp_path_factory.mktemp("tf_int8") / "int8", calibration_samples=32)


@pytest.mark.slow
def test_quantize_writes_int8_saved_model(int8_dir):
    metadata = read_metadata(int8_dir)

    assert (int8_dir / "saved_model" / "saved_model.pb").is_file()
    assert metadata["format"] == "tf_saved_model_int8"
    assert metadata["quantization"]["calibration_samples"] == 32
    # MobileNetV2 has 17 depthwise convolutions; those among the two nearest the input stay FP32.
    int8_depthwise = metadata["quantization"]["int8_op_types"]["_FusedQuantizedDepthwiseConv2D"]
    fp32_depthwise = metadata["quantization"]["fp32_op_types"].get("DepthwiseConv2dNative", {}).get("count", 0)
    assert int8_depthwise + fp32_depthwise == 17
    assert int8_depthwise >= 15
    assert all(entry["reason"] for entry in metadata["quantization"]["fp32_op_types"].values())


@pytest.mark.slow
def test_int8_saved_model_agrees_with_fp32(int8_dir, trained):
    from tl_engine.quantization.tf_int8 import load_int8_saved_model
    from tl_engine.models.tf_image import nhwc

    model, dataset = trained
    int8 = load_int8_saved_model(int8_dir / "saved_model")
    agree = total = 0
    for inputs, _ in dataset.loader("test"):
        agree += int((int8(nhwc(inputs)).argmax(1) == model.predict_logits(inputs).numpy().argmax(1)).sum())
        total += len(inputs)

    # 32 calibration images at 64 px; at the demo's settings INT8 accuracy is within a point of FP32.
    assert agree / total >= 0.9


@pytest.mark.slow
def test_benchmark_times_tensorflow_variants(exported_dir, int8_dir):
    from tl_engine.benchmark import benchmark_model

    fp32 = benchmark_model(exported_dir, batch_sizes=[2], iterations=2, warmup=1, threads=2)
    eager = benchmark_model(exported_dir, batch_sizes=[2], iterations=2, warmup=1, threads=2, compiled=False)
    int8 = benchmark_model(int8_dir, batch_sizes=[2], iterations=2, warmup=1, threads=2)

    assert (fp32["variant"], eager["variant"], int8["variant"]) == ("fp32_compiled", "fp32_eager", "int8_compiled")
    assert all(result["timings"][0]["throughput_per_s"] > 0 for result in (fp32, eager, int8))


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_dataset_with_other_classes_raises_the_same_error(framework, trained, split_dataset_dir, torch_hub_cache):
    model = trained[0] if framework == "tensorflow" else get_model("mobilenet_v2", "pytorch", image_size=IMAGE_SIZE)
    model.class_names = list(trained[0].class_names)
    other = load_dataset(split_dataset_dir, "image_classification", framework)

    with pytest.raises(DatasetError, match=r"differ from the model's classes"):
        model.evaluate(other)


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_missing_folder_raises_the_same_error(framework, tmp_path):
    with pytest.raises(DatasetError, match="Dataset folder not found"):
        load_dataset(tmp_path / "nowhere", "image_classification", framework)


def test_tfds_dataset_without_files_names_dataset_and_fix(tmp_path):
    from tl_engine.dataset_factory import get_dataset

    with pytest.raises(DatasetError, match=r"'beans' \(split 'train'\).*Connect to the network") as excinfo:
        get_dataset("beans", "tf_datasets", tmp_path, framework="tensorflow", download=False)

    assert str(tmp_path) in str(excinfo.value)
    assert not (tmp_path / "beans" / "train").exists()


@pytest.mark.parametrize("name", ["resnet50", "densenet121", "xception", "convnext_tiny"])
def test_keras_application_input_matches_preprocess_input(name):
    """The frozen mapping of [0, 1] images equals the Keras module's own `preprocess_input` of [0, 255] pixels."""
    from tl_engine.catalog import find_model
    from tl_engine.models.keras_applications import application_backbone
    from tl_engine.tf_runtime import tf_keras

    entry = find_model(name, "tensorflow")
    size = 75 if name == "xception" else 32
    backbone = application_backbone(entry, size, trainable=False, weights=None)
    images = np.random.default_rng(0).uniform(0.0, 1.0, (2, size, size, 3)).astype(np.float32)
    module = getattr(tf_keras().applications, entry.hub_id.split(".")[0])

    mapped = backbone.get_layer("preprocess_input")(images).numpy()

    assert np.allclose(mapped, np.asarray(module.preprocess_input(images * 255.0)), atol=1e-3)
    assert backbone.output_shape[-1] > 0
    assert not backbone.trainable_weights


def test_keras_application_model_reloads_without_python_code(tmp_path, split_dataset_dir):
    from tl_engine.catalog import find_model
    from tl_engine.models.keras_applications import application_backbone
    from tl_engine.models.tf_image import TFImageClassifier

    entry = find_model("resnet50", "tensorflow")
    model = TFImageClassifier(entry, image_size=32, pretrained=False)
    model.backbone = application_backbone(entry, 32, trainable=False, weights=None)
    model.feature_dim = int(model.backbone.output_shape[-1])
    model.set_classes(["bag", "dress", "sneaker"])
    model.export(tmp_path / "resnet50")

    loaded = load_model(tmp_path / "resnet50")

    batch = np.random.default_rng(0).uniform(0.0, 1.0, (2, 32, 32, 3)).astype(np.float32)
    assert np.array_equal(loaded.predict_logits(batch).numpy(), model.predict_logits(batch).numpy())


def test_keras_application_without_weights_or_network_names_file(tmp_path, monkeypatch):
    from tf_keras.src.utils import data_utils

    def fail_download(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/: no network in this test")

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(data_utils, "get_file", fail_download)

    with pytest.raises(WeightsNotFoundError) as excinfo:
        get_model("resnet50", "tensorflow", image_size=32)

    message = str(excinfo.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / ".keras" / "models") in message


def test_predict_takes_tf_dataset_batch(trained):
    model, dataset = trained
    images, _ = next(iter(dataset.tf_dataset("test")))

    from_tf = model.predict(images, top_k=1)
    from_loader = model.predict(dataset.get_batch("test")[0], top_k=1)

    assert [p["class_name"] for p in from_tf] == [p["class_name"] for p in from_loader]
    assert [p["class_name"] for p in model.predict(images.numpy())] == [p["class_name"] for p in from_tf]
