"""Loading datasets: custom folders and files, and the public dataset catalogs."""

from __future__ import annotations

from pathlib import Path

from tl_engine.catalog import FRAMEWORKS, USE_CASES
from tl_engine.errors import DatasetError

DATASET_CATALOGS = ("torchvision", "tf_datasets", "huggingface")
# torchvision classification datasets whose constructor takes `train=`, as `get_dataset` calls it.
TORCHVISION_DATASETS = ("CIFAR10", "CIFAR100", "FashionMNIST", "KMNIST", "MNIST", "USPS")
# TensorFlow Datasets image classification datasets with `(image, label)` supervised keys.
TFDS_DATASETS = ("beans", "caltech101", "cats_vs_dogs", "cifar10", "cifar100", "fashion_mnist", "food101", "mnist",
                 "oxford_flowers102", "oxford_iiit_pet", "tf_flowers")
# Hugging Face Hub text classification datasets with `text` and `label` columns.
HUGGINGFACE_DATASETS = ("cornell-movie-review-data/rotten_tomatoes", "dair-ai/emotion", "fancyzhx/ag_news",
                        "fancyzhx/yelp_polarity", "SetFit/sst2", "stanfordnlp/imdb")


def list_datasets(catalog: str | None = None) -> list[dict]:
    """Return the datasets that `get_dataset` can fetch, as rows with `catalog`, `name` and `use_case`.

    Example:
        >>> [row["name"] for row in list_datasets("torchvision")][:2]
        ['CIFAR10', 'CIFAR100']
    """
    if catalog is not None and catalog not in DATASET_CATALOGS:
        raise DatasetError(f"Unknown dataset catalog {catalog!r}. Valid catalogs: {', '.join(DATASET_CATALOGS)}.")
    rows = [{"catalog": "torchvision", "name": name, "use_case": "image_classification"}
            for name in TORCHVISION_DATASETS]
    rows += [{"catalog": "tf_datasets", "name": name, "use_case": "image_classification"} for name in TFDS_DATASETS]
    rows += [{"catalog": "huggingface", "name": name, "use_case": "text_classification"}
             for name in HUGGINGFACE_DATASETS]
    return [row for row in rows if catalog is None or row["catalog"] == catalog]


def load_dataset(dataset_dir: str | Path, use_case: str, framework: str = "pytorch", **kwargs):
    """Load a custom dataset from a folder.

    For `image_classification` the folder contains one sub-folder per class, or `train/`,
    `validation/` and `test/` folders that each contain the class folders. Keyword arguments go to
    the dataset class (for example `on_bad_file="error"`).

    Example:
        >>> ds = load_dataset("data/flowers", "image_classification", "pytorch")
        >>> ds.class_names[:2]
        ['daisy', 'roses']
    """
    if framework not in FRAMEWORKS:
        raise DatasetError(f"Unknown framework {framework!r}. Valid frameworks: {', '.join(FRAMEWORKS)}.")
    if use_case == "image_classification":
        from tl_engine.datasets.image_folder import ImageClassificationDataset

        return ImageClassificationDataset.from_folder(dataset_dir, framework=framework, **kwargs)
    if use_case == "text_classification":
        from tl_engine.datasets.text import TextClassificationDataset

        path = _text_file(Path(dataset_dir), kwargs.pop("dataset_file", None))
        return TextClassificationDataset.from_csv(path, framework=framework, **kwargs)
    raise DatasetError(f"Unknown use case {use_case!r}. Valid use cases: {', '.join(USE_CASES)}.")


def _text_file(dataset_dir: Path, dataset_file: str | Path | None) -> Path:
    """Return the delimited file to read: `dataset_file` inside `dataset_dir`, the only one there, or the path itself."""
    if dataset_file is not None:
        return dataset_dir / dataset_file
    if dataset_dir.is_dir():
        candidates = sorted(p for p in dataset_dir.iterdir() if p.suffix.lower() in (".csv", ".tsv", ".txt"))
        if len(candidates) != 1:
            found = ", ".join(p.name for p in candidates) or "none"
            raise DatasetError(f"{dataset_dir} needs dataset_file (--dataset-file): it contains {len(candidates)} "
                               f"CSV, TSV or TXT files ({found}).")
        return candidates[0]
    return dataset_dir


def get_dataset(name: str, catalog: str, dataset_dir: str | Path, split: str = "train",
                framework: str = "pytorch", download: bool = True, **kwargs):
    """Load a dataset from a public catalog into `dataset_dir` (downloads when a network is there).

    For `catalog="huggingface"`, keyword arguments `text_column` and `label_column` name the
    columns, and `data_files` reads local files through `datasets` (for example `name="csv"`).

    Example:
        >>> ds = get_dataset("FashionMNIST", "torchvision", "data/catalog")
        >>> flowers = get_dataset("tf_flowers", "tf_datasets", "data/tfds", framework="tensorflow")
        >>> reviews = get_dataset("cornell-movie-review-data/rotten_tomatoes", "huggingface", "data/hf")
    """
    if catalog == "torchvision":
        from tl_engine.datasets.torchvision_catalog import load_torchvision_dataset

        return load_torchvision_dataset(name, Path(dataset_dir), split, framework, download)
    if catalog == "tf_datasets":
        from tl_engine.datasets.tfds_catalog import load_tfds_dataset

        return load_tfds_dataset(name, Path(dataset_dir), split, framework, download)
    if catalog == "huggingface":
        return _huggingface_dataset(name, Path(dataset_dir), split, framework, download, **kwargs)
    raise DatasetError(f"Unknown dataset catalog {catalog!r}. Valid catalogs: {', '.join(DATASET_CATALOGS)}.")


def _huggingface_dataset(name: str, cache_dir: Path, split: str, framework: str, download: bool,
                         text_column: str = "text", label_column: str = "label", data_files=None):
    import datasets

    from tl_engine.datasets.text import TextClassificationDataset

    mode = None if download else datasets.DownloadMode.REUSE_CACHE_IF_EXISTS
    try:
        loaded = datasets.load_dataset(name, split=split, cache_dir=str(cache_dir), data_files=data_files,
                                       download_mode=mode)
    except (ConnectionError, FileNotFoundError, ValueError, OSError) as exc:
        raise DatasetError(f"Could not load Hugging Face dataset {name!r} (split {split!r}) into {cache_dir}: "
                           f"{exc}. Connect to the network, or pass local files with data_files=.") from exc
    return TextClassificationDataset.from_huggingface(loaded, label_column, text_column, source=f"{name}[{split}]",
                                                      framework=framework)
