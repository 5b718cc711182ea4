"""The model catalog: listing, lookup by name and framework, and the errors for unknown values."""

from __future__ import annotations

import pytest

from tl_engine.catalog import find_model, list_models
from tl_engine.errors import CatalogError


@pytest.mark.parametrize(("name", "hub", "hub_id"), [
    ("mobilenet_v2", "torchvision", "MobileNet_V2_Weights.IMAGENET1K_V1"),
    ("efficientnet_lite0", "efficientnet_lite_pytorch", "efficientnet-lite0"),
])
def test_find_model_returns_hub_id(name, hub, hub_id):
    entry = find_model(name, "pytorch")

    assert entry.hub == hub
    assert entry.hub_id == hub_id
    assert entry.input_size == 224


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_lite0"])
def test_list_models_includes_model(name):
    names = [entry.name for entry in list_models("pytorch", "image_classification")]

    assert name in names


def test_list_models_filters_by_framework():
    frameworks = {entry.framework for entry in list_models("pytorch")}

    assert frameworks == {"pytorch"}


def test_image_entries_have_weights_files():
    missing = [entry.name for entry in list_models("pytorch", "image_classification") if not entry.weights_file]

    assert missing == []


def test_text_entries_use_hugging_face_ids():
    entries = list_models("pytorch", "text_classification")

    assert {entry.hub for entry in entries} == {"huggingface"}
    assert all("/" in entry.hub_id for entry in entries)
    assert find_model("minilm_l6", "pytorch").hub_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"bert_base_uncased", "bert_large_uncased", "distilbert_base_uncased", "bert_tiny",
            "roberta_base"} <= {entry.name for entry in entries}


def test_find_model_typo_suggests_close_match():
    with pytest.raises(CatalogError) as excinfo:
        find_model("mobilnet_v2", "pytorch")

    message = str(excinfo.value)
    assert "'mobilnet_v2'" in message
    assert "Close matches:" in message
    assert "mobilenet_v2" in message


def test_find_model_unknown_version_suggests_variants():
    with pytest.raises(CatalogError) as excinfo:
        find_model("mobilenet_v3", "pytorch")

    message = str(excinfo.value)
    assert "mobilenet_v3_large" in message
    assert "mobilenet_v3_small" in message


def test_catalog_error_is_key_error_without_quotes():
    with pytest.raises(KeyError) as excinfo:
        find_model("mobilnet_v2", "pytorch")

    assert str(excinfo.value).startswith("Unknown model name")


def test_list_models_unknown_framework_names_valid():
    with pytest.raises(CatalogError) as excinfo:
        list_models("jax")

    message = str(excinfo.value)
    assert "'jax'" in message
    assert "pytorch" in message
    assert "tensorflow" in message


def test_list_models_unknown_use_case_names_valid():
    with pytest.raises(CatalogError) as excinfo:
        list_models("pytorch", "object_detection")

    message = str(excinfo.value)
    assert "'object_detection'" in message
    assert "image_classification" in message


def test_find_model_tensorflow_names_pytorch():
    with pytest.raises(CatalogError) as excinfo:
        find_model("alexnet", "tensorflow")

    message = str(excinfo.value)
    assert "'tensorflow'" in message
    assert "Valid frameworks for it: pytorch." in message


def test_find_model_tensorflow_returns_hub_handle():
    entry = find_model("mobilenet_v2", "tensorflow")

    assert entry.hub == "tfhub"
    assert entry.hub_id == "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
    assert entry.preprocessing == {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}


def test_find_model_wrong_use_case_raises():
    with pytest.raises(CatalogError) as excinfo:
        find_model("mobilenet_v2", "pytorch", "text_classification")

    assert "'text_classification'" in str(excinfo.value)


def test_find_model_unknown_framework_lists_valid():
    with pytest.raises(CatalogError, match="Unknown framework 'tensorflw'. Valid frameworks: pytorch, tensorflow."):
        find_model("mobilenet_v2", "tensorflw")
