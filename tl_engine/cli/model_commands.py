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
              help="Image folder: one sub-folder per class, or train/, validation/ and test/ folders of them. "
                   "Text: the folder of the CSV file.")
@click.option("--dataset-file", default=None,
              help="Text models: CSV file inside --dataset-dir (default: the folder's only .csv, .tsv or .txt).")
@click.option("--delimiter", default=None, help="Text models: field delimiter of the CSV file.")
@click.option("--label-column", default=None, help="Text models: name or index of the label column (default: 0).")
@click.option("--text-column", default=None, help="Text models: name or index of the text column (default: 1).")
@click.option("--output-dir", required=True, type=new_dir, help="New folder for the trained model.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True, help="Training epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Batch size.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Learning rate of the Adam optimizer.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split, the head and shuffling.")
@click.option("--fine-tune", is_flag=True, help="Train the whole network, not only a new head on frozen features.")
@click.option("--image-size", type=click.IntRange(min=16), default=None,
              help="Image models: input size in pixels (default: the model's own).")
@click.option("--max-length", type=click.IntRange(min=8), default=None,
              help="Text models: tokens per text; longer texts are truncated and counted (default: 128).")
@click.option("--encoding", default="utf-8", show_default=True, help="Text models: encoding of the CSV file.")
@click.option("--head-hidden-units", type=click.IntRange(min=0), default=0, show_default=True,
              help="Hidden layer width of the new head (0: a single linear layer).")
@click.option("--validation-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.15, show_default=True,
              help="Share of a flat folder held out for validation.")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.15,
              show_default=True, help="Share of a flat folder held out for the final test.")
@config_option
@output_options
def train(model_name: str, framework: str, dataset_dir: Path, output_dir: Path, epochs: int, batch_size: int,
          learning_rate: float, seed: int, fine_tune: bool, image_size: int | None, max_length: int | None,
          encoding: str, head_hidden_units: int, validation_fraction: float, test_fraction: float,
          **text_options) -> None:
    """Train a pretrained model on a dataset, evaluate it on the held-out test split and export it.

    A flat class folder is split (stratified, seeded) into train, validation and test; a folder
    with train/ and test/ sub-folders keeps its own split. The output folder gets the weights and
    `tl_metadata.json`, which records the classes, the settings and the test evaluation.
    """
    from tl_engine.catalog import find_model
    from tl_engine.dataset_factory import load_dataset
    from tl_engine.model_factory import get_model
    from tl_engine.store import check_output_dir

    text_flags = [f"--{name.replace('_', '-')}" for name in TEXT_OPTIONS if text_options.get(name) is not None]
    use_case = find_model(model_name, framework).use_case
    if use_case == "text_classification":
        model_options = {"max_length": max_length}
        reader_options = {name: value for name, value in text_options.items() if value is not None}
        reader_options["encoding"] = encoding
    elif text_flags:
        raise click.UsageError(f"{', '.join(text_flags)} apply to text models only; {model_name} is an "
                               f"{use_case} model that reads class folders from --dataset-dir.")
    else:
        model_options = {"image_size": image_size, "head_hidden_units": head_hidden_units}
        reader_options = {}
    check_output_dir(output_dir)
    model = get_model(model_name, framework, **model_options)
    dataset = load_dataset(dataset_dir, model.use_case, framework, **reader_options)
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
    click.echo(f"Trained {model_name} ({framework}) for {epochs} epoch{'s' if epochs > 1 else ''}: test accuracy {report['accuracy']:.4f} "
               f"on {report['samples']} {dataset.unit}.")
    click.echo(f"Model written to {output_dir}")


def text_file_options(command):
    """Add the options that describe a text dataset's CSV file (ignored for image models)."""
    options = [
        click.option("--dataset-file", default=None, help="Text models: CSV file inside --dataset-dir."),
        click.option("--delimiter", default=None, help="Text models: field delimiter of the CSV file."),
        click.option("--label-column", default=None, help="Text models: name or index of the label column."),
        click.option("--text-column", default=None, help="Text models: name or index of the text column."),
        click.option("--encoding", default=None, help="Text models: encoding of the CSV file (default: utf-8)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def open_dataset(dataset_dir: Path, model, reader_options: dict):
    """Load the dataset for a trained model; the CSV options apply to text models only."""
    from tl_engine.dataset_factory import load_dataset

    options = {name: value for name, value in reader_options.items() if value is not None}
    if model.use_case != "text_classification":
        options = {}
    return load_dataset(dataset_dir, model.use_case, model.framework, **options)


@main.command("eval")
@click.option("--model-dir", required=True, type=existing_dir, help="Folder written by `tl train`.")
@click.option("--dataset-dir", required=True, type=existing_dir,
              help="Image folder with the model's classes; its test/ folder, or every image when it has none.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Batch size.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@text_file_options
@config_option
@output_options
def evaluate(model_dir: Path, dataset_dir: Path, batch_size: int, as_json: bool, **reader_options) -> None:
    """Evaluate a trained model: accuracy, and precision, recall and F1 per class."""
    import json

    from tl_engine.model_factory import load_model

    model = load_model(model_dir)
    dataset = open_dataset(dataset_dir, model, reader_options)
    if not dataset.splits["test"]:
        dataset.use_all_for("test")
    dataset.preprocess(model.preprocessing, batch_size)
    report = model.evaluate(dataset, "test", progress=show_progress())
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"Accuracy {report['accuracy']:.4f} on {report['samples']} {dataset.unit} of {dataset_dir}")
    rows = [{"class": name, **values} for name, values in report["per_class"].items()]
    echo_rows(rows, ["class", "precision", "recall", "f1", "support"])


def _expand_images(inputs: tuple[str, ...]) -> list[Path]:
    from tl_engine.datasets.images import IMAGE_SUFFIXES

    files = []
    for path in map(Path, inputs):
        if not path.exists():
            raise click.BadParameter(f"Path '{path}' does not exist.", param_hint="INPUT")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise click.BadParameter(f"{path} contains no image files ({', '.join(sorted(IMAGE_SUFFIXES))}).",
                                         param_hint="INPUT")
            files += found
        else:
            files.append(path)
    return files


def _expand_texts(inputs: tuple[str, ...], text_column: str) -> list[str]:
    import csv

    texts = []
    for item in inputs:
        path = Path(item)
        if path.suffix.lower() not in (".csv", ".tsv") or not path.is_file():
            texts.append(item)
            continue
        with path.open(newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream, delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
        if text_column.isdigit():
            index = int(text_column)
        elif rows and text_column in rows[0]:
            index, rows = rows[0].index(text_column), rows[1:]
        else:
            header = ", ".join(rows[0]) if rows else "none"
            raise click.BadParameter(f"{path} has no column {text_column!r}. Columns: {header}.",
                                     param_hint="--text-column")
        texts += [row[index] for row in rows if len(row) > index and row[index].strip()]
    return texts


@main.command("predict")
@click.option("--model-dir", required=True, type=existing_dir, help="Folder written by `tl train`.")
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@click.option("--top-k", type=click.IntRange(min=1), default=1, show_default=True, help="Classes shown per input.")
@click.option("--text-column", default="text", show_default=True,
              help="Text models: the column read from CSV inputs (a name, or an index for files without a header).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Batch size.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@output_options
def predict(model_dir: Path, inputs: tuple[str, ...], top_k: int, batch_size: int, text_column: str,
            as_json: bool) -> None:
    """Predict the class of each INPUT.

    Image models: image files, or folders searched for images. Text models: the texts themselves,
    or CSV files whose --text-column is read.
    """
    from tqdm.auto import tqdm

    from tl_engine.model_factory import load_model

    model = load_model(model_dir)
    items = _expand_texts(inputs, text_column) if model.use_case == "text_classification" else _expand_images(inputs)
    rows = []
    for start in tqdm(range(0, len(items), batch_size), desc="predict", unit="batch", disable=not show_progress()):
        batch = items[start:start + batch_size]
        for item, result in zip(batch, model.predict([str(p) for p in batch], top_k=top_k)):
            rows.append({"input": str(item), "class_name": result["class_name"],
                         "probability": result["probability"], "top_k": result["top_k"]})
    if as_json:
        echo_rows(rows, [], as_json=True)
        return
    for row in rows:
        row["top_k"] = ", ".join(f"{r['class_name']} {r['probability']:.3f}" for r in row["top_k"])
    echo_rows(rows, ["input", "class_name", "probability"] + (["top_k"] if top_k > 1 else []))
