"""The README's library sequence, run as written on tiny real data for every framework and use case."""

from __future__ import annotations

import pytest
import torch

from tl_engine import benchmark, dataset_factory, model_factory, quantization
from tl_engine.store import read_metadata

# (framework, use case, catalog model, its small-input option, fixture with the dataset, INT8 variant)
COMBINATIONS = [
    ("pytorch", "image_classification", "mobilenet_v2", {"image_size": 32}, "training_dataset_dir", "int8_compiled"),
    ("pytorch", "text_classification", "minilm_l6", {"max_length": 32}, "reviews_csv", "int8_dynamic"),
    ("tensorflow", "image_classification", "mobilenet_v2", {"image_size": 32}, "training_dataset_dir",
     "int8_compiled"),
]


@pytest.mark.parametrize(("framework", "use_case", "model_name", "options", "dataset_fixture", "int8_variant"),
                         COMBINATIONS)
def test_library_sequence_runs(framework, use_case, model_name, options, dataset_fixture, int8_variant, request,
                               tmp_path, torch_hub_cache, huggingface_cache):
    dataset_dir = request.getfixturevalue(dataset_fixture)
    if framework == "tensorflow":
        request.getfixturevalue("tfhub_cache")
    if dataset_dir.is_file():
        dataset_dir = dataset_dir.parent

    model = model_factory.get_model(model_name, framework, **options)
    dataset = dataset_factory.load_dataset(dataset_dir, use_case, framework)
    dataset.shuffle_split(train_pct=0.6, val_pct=0.2, test_pct=0.2, seed=0)
    dataset.preprocess(model.preprocessing, batch_size=16)
    model.train(dataset, output_dir=tmp_path / "fp32", epochs=2)
    report = model.evaluate(dataset)
    inputs, labels = dataset.get_batch("test")
    predictions = model.predict(inputs)
    model.export(tmp_path / "copy")
    fp32 = benchmark.benchmark_model(tmp_path / "fp32", batch_sizes=[4], iterations=2, warmup=1)
    quantization.quantize(model, dataset, tmp_path / "int8", calibration_samples=16)
    int8 = benchmark.benchmark_model(tmp_path / "int8", batch_sizes=[4], iterations=2, warmup=1)

    assert report["samples"] == len(dataset.splits["test"])
    expected = model.predict_logits(inputs).argmax(1).tolist()
    assert [p["class_index"] for p in predictions] == expected
    assert [p["class_name"] for p in predictions] == [dataset.class_names[i] for i in expected]
    assert len(predictions) == len(labels)
    assert read_metadata(tmp_path / "copy")["class_names"] == dataset.class_names
    assert fp32["variant"] == "fp32_compiled"
    assert int8["variant"] == int8_variant
    assert int8["timings"][0]["throughput_per_s"] > 0
    # The framework objects stay reachable.
    assert isinstance(dataset.loader("train"), torch.utils.data.DataLoader)
    if framework == "pytorch":
        assert isinstance(model.model, torch.nn.Module)
        assert isinstance(dataset.dataset, torch.utils.data.Dataset)
    else:
        from tl_engine.tf_runtime import tensorflow, tf_keras

        assert isinstance(model.model, tf_keras().Model)
        assert isinstance(dataset.tf_dataset("train"), tensorflow().data.Dataset)
