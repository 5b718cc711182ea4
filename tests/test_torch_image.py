"""PyTorch image classifiers with real pretrained weights: ImageNet predictions, training, export and INT8."""

from __future__ import annotations

import json
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skimage_data

from conftest import TRAINING_CLASSES, save_png
from tl_engine.catalog import find_model
from tl_engine.dataset_factory import load_dataset
from tl_engine.datasets.torch_images import build_transform
from tl_engine.errors import ArtifactError, CatalogError, WeightsNotFoundError
from tl_engine.feature_files import FeatureFile
from tl_engine.model_factory import get_model, load_model
from tl_engine.models import image_classifier
from tl_engine.models.torch_hub import build_classifier
from tl_engine.store import METADATA_FILE

ESPRESSO_CLASS = 967  # ImageNet-1k class index of "espresso"

# Test accuracy of the seeded run in `trained`: 30 of the 32 test images. Measured with this test file
# (pytest, three runs, alone and with the other tests) on a 2-core AMD EPYC (x86_64) with torch 2.14.1 and
# torchvision 0.29.1. Other CPUs or versions may round differently, hence the tolerance, which is below
# one image (1/32).
GOLDEN_TEST_ACCURACY = 0.9375


@pytest.fixture(scope="module", params=["mobilenet_v2", "efficientnet_lite0"])
def imagenet_classifier(request, torch_hub_cache):
    """A catalog entry and its hub's ImageNet classifier with pretrained weights, in eval mode."""
    entry = find_model(request.param, "pytorch")
    return entry, build_classifier(entry).eval()


def make_training_dataset(training_dataset_dir, model):
    dataset = load_dataset(training_dataset_dir, "image_classification")
    dataset.shuffle_split(0.6, 0.2, 0.2, seed=0)
    dataset.preprocess(model.preprocessing, 16)
    return dataset


def train_seeded(training_dataset_dir, global_seed: int = 0):
    """Build MobileNetV2 at 64 px, train a head for 3 epochs with seed 0 and return the model and its dataset.

    `global_seed` sets torch's global generator first, to show that `train(seed=0)` does not depend on it.
    """
    model = get_model("mobilenet_v2", "pytorch", image_size=64)
    dataset = make_training_dataset(training_dataset_dir, model)
    torch.manual_seed(global_seed)
    model.train(dataset, epochs=3, seed=0)
    return model, dataset


@pytest.fixture(scope="module")
def trained(training_dataset_dir, torch_hub_cache):
    """The seeded MobileNetV2 run whose accuracy is GOLDEN_TEST_ACCURACY, and its dataset."""
    return train_seeded(training_dataset_dir)


@pytest.fixture(scope="module")
def exported_dir(trained, tmp_path_factory):
    model, _ = trained
    return model.export(tmp_path_factory.mktemp("export") / "mobilenet_v2")


# Pretrained ImageNet classifiers


def test_imagenet_classifier_finds_espresso(imagenet_classifier):
    entry, classifier = imagenet_classifier
    transform = build_transform({"input_size": entry.input_size, "mean": entry.preprocessing["mean"],
                                 "std": entry.preprocessing["std"]})
    coffee = transform(Image.fromarray(skimage_data.coffee())).unsqueeze(0)

    with torch.inference_mode():
        logits = classifier(coffee)

    assert logits.shape == (1, 1000)
    assert int(logits.argmax(1)) == ESPRESSO_CLASS


# Training


def test_train_history_has_every_epoch(trained):
    model, _ = trained

    assert [row["epoch"] for row in model.history] == [1, 2, 3]
    assert "validation_accuracy" in model.history[-1]


def test_train_matches_golden_accuracy(trained):
    model, dataset = trained

    accuracy = model.evaluate(dataset)["accuracy"]

    assert accuracy == pytest.approx(GOLDEN_TEST_ACCURACY, abs=0.02)


@pytest.mark.slow
def test_train_repeats_history_exactly(trained, training_dataset_dir):
    model, dataset = trained

    repeat, _ = train_seeded(training_dataset_dir)

    assert repeat.history == model.history
    inputs, _ = dataset.get_batch("test")
    assert torch.equal(repeat.predict_logits(inputs), model.predict_logits(inputs))


@pytest.mark.slow
def test_train_seed_ignores_global_rng(training_dataset_dir, torch_hub_cache):
    # Each global seed imitates earlier code that drew numbers from torch's global RNG.
    first, _ = train_seeded(training_dataset_dir, global_seed=1)
    second, _ = train_seeded(training_dataset_dir, global_seed=2)

    assert first.history == second.history


def test_feature_files_train_the_same_head(trained, training_dataset_dir, tmp_path):
    model, dataset = trained
    features = {subset: model.extract_features(dataset, subset, to_file=tmp_path / f"{subset}.npy")
                for subset in ("train", "validation")}
    retrained = get_model("mobilenet_v2", "pytorch", image_size=64)

    retrained.train(make_training_dataset(training_dataset_dir, retrained), epochs=3, seed=0, features=features)

    assert isinstance(features["train"][0], FeatureFile)
    assert retrained.history == model.history
    inputs, _ = dataset.get_batch("test")
    assert torch.equal(retrained.predict_logits(inputs), model.predict_logits(inputs))


def test_large_features_train_from_a_temporary_file(trained, training_dataset_dir, monkeypatch, caplog):
    model, dataset = trained
    monkeypatch.setattr(image_classifier, "FEATURES_IN_MEMORY_LIMIT_BYTES", 0)
    retrained = get_model("mobilenet_v2", "pytorch", image_size=64)

    with caplog.at_level("INFO", logger="tl_engine.models.image_classifier"):
        retrained.train(make_training_dataset(training_dataset_dir, retrained), epochs=3, seed=0)

    assert "are read from" in caplog.text
    assert retrained.history == model.history


def test_train_takes_dataset_class_names(trained):
    model, dataset = trained

    assert model.class_names == dataset.class_names
    assert sorted(model.class_names) == sorted(TRAINING_CLASSES)


# Evaluation and prediction


def test_evaluate_reports_per_class_metrics(trained):
    model, dataset = trained

    report = model.evaluate(dataset)

    assert sorted(report["per_class"]) == sorted(TRAINING_CLASSES)
    for class_name, metrics in report["per_class"].items():
        assert 0.0 <= metrics["precision"] <= 1.0, class_name
        assert 0.0 <= metrics["recall"] <= 1.0, class_name
        assert metrics["support"] == 8, class_name


def test_evaluate_confusion_matrix_sums_to_test_size(trained):
    model, dataset = trained

    report = model.evaluate(dataset)

    assert np.asarray(report["confusion_matrix"]).shape == (4, 4)
    assert np.asarray(report["confusion_matrix"]).sum() == len(dataset.splits["test"])
    assert report["samples"] == len(dataset.splits["test"])


def test_evaluate_accuracy_matches_confusion_diagonal(trained):
    model, dataset = trained

    report = model.evaluate(dataset)

    matrix = np.asarray(report["confusion_matrix"])
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-4)


def test_predict_returns_argmax_class_names(trained):
    model, dataset = trained
    inputs, _ = dataset.get_batch("test")

    predictions = model.predict(inputs)

    expected = [model.class_names[i] for i in model.predict_logits(inputs).argmax(1).tolist()]
    assert [p["class_name"] for p in predictions] == expected


def test_predict_image_path_returns_top_k(trained):
    model, dataset = trained
    path = dataset.samples[dataset.splits["test"][0]].path

    [prediction] = model.predict(path, top_k=2)

    assert prediction["class_name"] in model.class_names
    assert [item["class_name"] for item in prediction["top_k"]][0] == prediction["class_name"]
    assert len(prediction["top_k"]) == 2


def test_predict_path_matches_tensor_input(trained):
    model, dataset = trained
    index = dataset.splits["test"][0]
    image, _ = dataset.dataset[index]

    [from_path] = model.predict(dataset.samples[index].path)
    [from_tensor] = model.predict(image)

    assert from_path == from_tensor


def test_predict_rgba_pil_matches_path(trained, tmp_path):
    model, _ = trained
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[16:48, 16:48] = (200, 40, 40, 255)  # an opaque square on a transparent background
    path = save_png(Image.fromarray(rgba, mode="RGBA"), tmp_path / "square.png")

    [from_path] = model.predict(path)
    with Image.open(path) as image:
        [from_image] = model.predict(image)

    assert from_image["top_k"] == from_path["top_k"]


# Export and reload


def test_export_writes_weights_and_metadata(exported_dir):
    assert (exported_dir / "model.pt").is_file()
    assert (exported_dir / METADATA_FILE).is_file()


def test_export_metadata_names_model(exported_dir, trained):
    model, _ = trained

    metadata = json.loads((exported_dir / METADATA_FILE).read_text())

    assert metadata["model_name"] == "mobilenet_v2"
    assert metadata["framework"] == "pytorch"
    assert metadata["class_names"] == model.class_names
    assert metadata["preprocessing"]["input_size"] == 64


def test_export_to_nonempty_dir_raises(exported_dir, trained):
    model, _ = trained

    with pytest.raises(ArtifactError) as excinfo:
        model.export(exported_dir)

    assert str(exported_dir) in str(excinfo.value)


def test_load_model_predicts_identically(exported_dir, trained):
    model, dataset = trained
    inputs, _ = dataset.get_batch("test")

    loaded = load_model(exported_dir)

    assert loaded.class_names == model.class_names
    assert torch.equal(loaded.predict_logits(inputs), model.predict_logits(inputs))


def test_load_model_evaluates_identically(exported_dir, trained):
    model, dataset = trained

    loaded = load_model(exported_dir)

    assert loaded.evaluate(dataset) == model.evaluate(dataset)


def test_load_model_missing_metadata_raises(exported_dir, tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model.pt").write_bytes((exported_dir / "model.pt").read_bytes())

    with pytest.raises(ArtifactError) as excinfo:
        load_model(broken)

    assert str(broken) in str(excinfo.value)
    assert METADATA_FILE in str(excinfo.value)


def test_load_model_missing_weights_raises(exported_dir, tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / METADATA_FILE).write_text((exported_dir / METADATA_FILE).read_text())

    with pytest.raises(ArtifactError) as excinfo:
        load_model(broken)

    assert str(broken / "model.pt") in str(excinfo.value)


# Catalog and weights errors


def test_get_model_typo_suggests_close_match():
    with pytest.raises(CatalogError) as excinfo:
        get_model("mobilnet_v2", "pytorch")

    assert "Close matches: mobilenet_v2" in str(excinfo.value)


def test_missing_weights_name_checkpoint_path(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def block_download(*args, **kwargs):
        raise urllib.error.URLError("network blocked by the test")

    # torch.hub imports urlopen by name, so the download goes through torch.hub.urlopen,
    # not urllib.request.urlopen.
    monkeypatch.setattr(torch.hub, "urlopen", block_download)

    with pytest.raises(WeightsNotFoundError) as excinfo:
        get_model("mobilenet_v2", "pytorch", image_size=64)

    expected = tmp_path / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth"
    assert str(expected) in str(excinfo.value)
    assert "network blocked by the test" in str(excinfo.value)


# INT8 quantization


@pytest.fixture(scope="module")
def int8_dir(trained, tmp_path_factory):
    from tl_engine.quantization.torch_int8 import quantize_static

    model, dataset = trained
    return quantize_static(model, dataset, tmp_path_factory.mktemp("int8") / "mobilenet_v2",
                           calibration_samples=32)


@pytest.mark.slow
def test_quantize_static_writes_program(int8_dir):
    assert (int8_dir / METADATA_FILE).is_file()
    assert (int8_dir / "quantized_model.pt2").is_file()


@pytest.mark.slow
def test_quantize_static_metadata_names_format(int8_dir):
    metadata = json.loads((int8_dir / METADATA_FILE).read_text())

    assert metadata["format"] == "torch_export_int8"
    assert metadata["weights_file"] == "quantized_model.pt2"
    assert metadata["quantization"]["calibration_samples"] >= 32


@pytest.mark.slow
def test_int8_program_agrees_with_fp32(int8_dir, trained):
    from tl_engine.quantization.torch_int8 import load_int8_program

    model, dataset = trained
    inputs, _ = dataset.get_batch("test")
    int8_program = load_int8_program(int8_dir)

    with torch.no_grad():
        int8_classes = int8_program(inputs).argmax(1)
    fp32_classes = model.predict_logits(inputs).argmax(1)

    agreement = (int8_classes == fp32_classes).float().mean().item()
    assert agreement >= 0.9


def test_bfloat16_benchmark_of_int8_folder_raises(int8_dir):
    from tl_engine.benchmark import benchmark_model

    with pytest.raises(ArtifactError, match="bfloat16 applies to FP32 models only"):
        benchmark_model(int8_dir, batch_sizes=[1], bfloat16=True)
