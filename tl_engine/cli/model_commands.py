"""`tl train`, `tl eval` and `tl predict`: a model trained, measured and used on the user's data."""

from __future__ import annotations

from pathlib import Path

import click

from tl_engine.catalog import FRAMEWORKS
from tl_engine.cli.app import config_option, main, output_options, show_progress
from tl_engine.cli.tables import echo_rows

existing_dir = click.Path(exists=True, file_okay=False, path_type=Path)
new_dir = click.Path(file_okay=False, path_type=Path)
TEXT_OPTIONS = ("dataset_file", "delimiter", "label_column", "text_column")


@main.command("train")
@click.option("--model-name", required=True, help="Catalog name of the pretrained model (see `tl list models`).")
@click.option("--framework", type=click.Choice(FRAMEWORKS), default="pytorch", show_default=True,
              help="Framework of the model.")
@click.option("--dataset-dir", required=True, type=existing_dir,
              help="Image folder: one sub-folder per class, or train/, validation/ and test/ folders of them.")
@click.option("--dataset-file", default=None, help="Text models: CSV file inside --dataset-dir.")
@click.option("--delimiter", default=None, help="Text models: field delimiter of the CSV file.")
@click.option("--label-column", default=None, help="Text models: name or index of the label column.")
@click.option("--text-column", default=None, help="Text models: name or index of the text column.")
@click.option("--output-dir", required=True, type=new_dir, help="New folder for the trained model.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True, help="Training epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Batch size.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Learning rate of the Adam optimizer.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split, the head and shuffling.")
@click.option("--fine-tune", is_flag=True, help="Train the whole network, not only a new head on frozen features.")
@click.option("--image-size", type=click.IntRange(min=16), default=None,
              help="Input size in pixels (default: the model's own).")
@click.option("--head-hidden-units", type=click.IntRange(min=0), default=0, show_default=True,
              help="Hidden layer width of the new head (0: a single linear layer).")
@click.option("--validation-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.15, show_default=True,
              help="Share of a flat folder held out for validation.")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.15,
              show_default=True, help="Share of a flat folder held out for the final test.")
@config_option
@output_options
def train(model_name: str, framework: str, dataset_dir: Path, output_dir: Path, epochs: int, batch_size: int,
          learning_rate: float, seed: int, fine_tune: bool, image_size: int | None, head_hidden_units: int,
          validation_fraction: float, test_fraction: float, **text_options) -> None:
    """Train a pretrained model on a dataset, evaluate it on the held-out test split and export it.

    A flat class folder is split (stratified, seeded) into train, validation and test; a folder
    with train/ and test/ sub-folders keeps its own split. The output folder gets the weights and
    `tl_metadata.json`, which records the classes, the settings and the test evaluation.
    """
    from tl_engine.dataset_factory import load_dataset
    from tl_engine.model_factory import get_model
    from tl_engine.store import check_output_dir

    text_flags = [f"--{name.replace('_', '-')}" for name in TEXT_OPTIONS if text_options.get(name) is not None]
    model = get_model(model_name, framework, image_size=image_size, head_hidden_units=head_hidden_units)
    if text_flags and model.use_case != "text_classification":
        raise click.UsageError(f"{', '.join(text_flags)} apply to text models only; {model_name} is an "
                               f"{model.use_case} model that reads class folders from --dataset-dir.")
    check_output_dir(output_dir)
    dataset = load_dataset(dataset_dir, model.use_case, framework)
    if not dataset.splits["test"]:
        train_fraction = 1.0 - validation_fraction - test_fraction
        if train_fraction <= 0:
            raise click.BadParameter("--validation-fraction and --test-fraction leave no training data; "
                                     "their sum must be below 1.", param_hint="--test-fraction")
        dataset.shuffle_split(train_fraction, validation_fraction, test_fraction, seed)
    dataset.preprocess(model.preprocessing, batch_size)
    model.train(dataset, epochs=epochs, learning_rate=learning_rate, seed=seed, fine_tune=fine_tune,
                progress=show_progress())
    report = model.evaluate(dataset, "test", progress=show_progress())
    model.export(output_dir, extra_metadata={"evaluation": {"subset": "test", **report}})
    click.echo(f"Trained {model_name} ({framework}) for {epochs} epochs: test accuracy {report['accuracy']:.4f} "
               f"on {report['samples']} images.")
    click.echo(f"Model written to {output_dir}")


@main.command("eval")
@click.option("--model-dir", required=True, type=existing_dir, help="Folder written by `tl train`.")
@click.option("--dataset-dir", required=True, type=existing_dir,
              help="Image folder with the model's classes; its test/ folder, or every image when it has none.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Batch size.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@config_option
@output_options
def evaluate(model_dir: Path, dataset_dir: Path, batch_size: int, as_json: bool) -> None:
    """Evaluate a trained model: accuracy, and precision, recall and F1 per class."""
    import json

    from tl_engine.dataset_factory import load_dataset
    from tl_engine.model_factory import load_model

    model = load_model(model_dir)
    dataset = load_dataset(dataset_dir, model.use_case, model.framework)
    if not dataset.splits["test"]:
        dataset.use_all_for("test")
    dataset.preprocess(model.preprocessing, batch_size)
    report = model.evaluate(dataset, "test", progress=show_progress())
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"Accuracy {report['accuracy']:.4f} on {report['samples']} images of {dataset_dir}")
    rows = [{"class": name, **values} for name, values in report["per_class"].items()]
    echo_rows(rows, ["class", "precision", "recall", "f1", "support"])


def _expand_inputs(inputs: tuple[Path, ...]) -> list[Path]:
    from tl_engine.datasets.images import IMAGE_SUFFIXES

    files = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise click.BadParameter(f"{path} contains no image files ({', '.join(sorted(IMAGE_SUFFIXES))}).",
                                         param_hint="INPUT")
            files += found
        else:
            files.append(path)
    return files


@main.command("predict")
@click.option("--model-dir", required=True, type=existing_dir, help="Folder written by `tl train`.")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--top-k", type=click.IntRange(min=1), default=1, show_default=True, help="Classes shown per input.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Batch size.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@output_options
def predict(model_dir: Path, inputs: tuple[Path, ...], top_k: int, batch_size: int, as_json: bool) -> None:
    """Predict the class of each INPUT: image files, or folders searched for images."""
    from tqdm.auto import tqdm

    from tl_engine.model_factory import load_model

    model = load_model(model_dir)
    files = _expand_inputs(inputs)
    rows = []
    for start in tqdm(range(0, len(files), batch_size), desc="predict", unit="batch", disable=not show_progress()):
        batch = files[start:start + batch_size]
        for path, result in zip(batch, model.predict([str(p) for p in batch], top_k=top_k)):
            rows.append({"input": str(path), "class_name": result["class_name"],
                         "probability": result["probability"], "top_k": result["top_k"]})
    if as_json:
        echo_rows(rows, [], as_json=True)
        return
    for row in rows:
        row["top_k"] = ", ".join(f"{r['class_name']} {r['probability']:.3f}" for r in row["top_k"])
    echo_rows(rows, ["input", "class_name", "probability"] + (["top_k"] if top_k > 1 else []))
