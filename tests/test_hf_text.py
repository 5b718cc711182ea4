"""Hugging Face text classification on real Rotten Tomatoes snippets, loaded offline by the real model id."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from tl_engine import dataset_factory, model_factory
from tl_engine.cli import main
from tl_engine.store import read_metadata


@pytest.fixture(scope="module")
def trained(tmp_path_factory, huggingface_cache, reviews_csv):
    """MiniLM-L6 fine-tuned for one epoch on 36 snippets (max_length 32), seeded, and exported."""
    model = model_factory.get_model("minilm_l6", "pytorch", max_length=32)
    dataset = dataset_factory.load_dataset(reviews_csv.parent, "text_classification", label_column="label",
                                           text_column="text")
    dataset.shuffle_split(train_pct=0.6, val_pct=0.2, test_pct=0.2, seed=0)
    dataset.preprocess(model.preprocessing, batch_size=8)
    output = tmp_path_factory.mktemp("text") / "fp32"
    model.train(dataset, output_dir=output, epochs=1, learning_rate=5e-5, seed=0)
    return model, dataset, output


def test_loads_real_id_offline(huggingface_cache):
    model = model_factory.get_model("minilm_l6", "pytorch")

    assert model.entry.hub_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert model.preprocessing == {"kind": "text", "tokenizer": "sentence-transformers/all-MiniLM-L6-v2",
                                   "max_length": 128}
    assert model.tokenizer("A film.")["input_ids"][0] == model.tokenizer.cls_token_id


def test_seeded_fine_tune_repeats_golden_loss(trained):
    model, _, _ = trained

    [epoch] = model.history

    assert epoch["train_loss"] == pytest.approx(0.696, abs=1e-3)
    assert epoch["train_accuracy"] == pytest.approx(0.41667, abs=1e-4)


def test_batches_are_tokenized_and_truncated(trained):
    _, dataset, _ = trained

    inputs, labels = dataset.get_batch("test")

    assert set(inputs) >= {"input_ids", "attention_mask"}
    assert inputs["input_ids"].shape[1] <= 32
    assert labels.dtype == torch.long
    assert dataset.truncated > 0  # some snippets have more than 32 tokens


def test_export_reload_predicts_identically(trained):
    model, dataset, output = trained
    texts = [sample.text for sample in dataset.samples[:6]]

    reloaded = model_factory.load_model(output)

    assert reloaded.class_names == ["fresh", "rotten"]
    assert reloaded.predict(texts, top_k=2) == model.predict(texts, top_k=2)
    assert (output / "model.safetensors").is_file()
    assert read_metadata(output)["format"] == "hf_pretrained"


def test_predict_on_batch_matches_strings(trained):
    model, dataset, _ = trained
    inputs, _ = dataset.get_batch("test")
    texts = [dataset.samples[i].text for i in dataset.splits["test"][:len(inputs["input_ids"])]]

    assert [p["class_index"] for p in model.predict(inputs)] == [p["class_index"] for p in model.predict(texts)]


def test_evaluate_reports_test_split(trained):
    model, dataset, _ = trained

    report = model.evaluate(dataset)

    assert report["samples"] == 12
    assert report["class_names"] == ["fresh", "rotten"]


def test_cli_text_commands_run(tmp_path, huggingface_cache, reviews_csv):
    output = tmp_path / "model"
    runner = CliRunner()

    trained = runner.invoke(main, ["--quiet", "train", "--model-name", "minilm_l6", "--dataset-dir",
                                   str(reviews_csv.parent), "--dataset-file", "reviews.csv", "--label-column",
                                   "label", "--text-column", "text", "--max-length", "32", "--epochs", "1",
                                   "--batch-size", "8", "--output-dir", str(output)])
    predicted = runner.invoke(main, ["--quiet", "predict", "--model-dir", str(output), "A warm, funny film.",
                                     str(reviews_csv), "--json"])

    quantized = runner.invoke(main, ["--quiet", "quantize", "--model-dir", str(output), "--output-dir",
                                     str(tmp_path / "int8")])
    measured = runner.invoke(main, ["--quiet", "benchmark", "--model-dir", str(output), "--int8-model-dir",
                                    str(tmp_path / "int8"), "--batch-size", "2", "--iterations", "2", "--warmup",
                                    "1", "--json"])

    assert trained.exit_code == 0, trained.output
    assert "on 8 texts" in trained.output  # 15 % of 30 snippets per class, rounded down
    assert quantized.exit_code == 0, quantized.output
    assert "(dynamic, no calibration)" in quantized.output
    assert measured.exit_code == 0, measured.output
    assert [row["variant"] for row in json.loads(measured.output)] == ["fp32_compiled", "int8_dynamic"]
    exported = runner.invoke(main, ["--quiet", "export", "--model-dir", str(output)])
    assert exported.exit_code == 0, exported.output
    assert read_metadata(tmp_path / "model-onnx")["onnx"]["input_names"] == ["input_ids", "attention_mask"]
    rows = json.loads(predicted.output)
    assert predicted.exit_code == 0, predicted.output
    assert rows[0]["input"] == "A warm, funny film."
    assert len(rows) == 1 + 60
    assert {row["class_name"] for row in rows} <= {"fresh", "rotten"}
