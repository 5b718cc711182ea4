"""Loading datasets: custom folders and files, and the public dataset catalogs."""

from __future__ import annotations

from pathlib import Path

from tl_engine.catalog import FRAMEWORKS, USE_CASES
from tl_engine.errors import DatasetError

DATASET_CATALOGS = ("torchvision",)
# torchvision classification datasets whose constructor takes `train=`, as `get_dataset` calls it.
TORCHVISION_DATASETS = ("CIFAR10", "CIFAR100", "FashionMNIST", "KMNIST", "MNIST", "USPS")


def list_datasets(catalog: str | None = None) -> list[dict]:
    """Return the datasets that `get_dataset` can fetch, as rows with `catalog`, `name` and `use_case`.

    Example:
        >>> [row["name"] for row in list_datasets("torchvision")][:2]
        ['CIFAR10', 'CIFAR100']
    """
    if catalog is not None and catalog not in DATASET_CATALOGS:
        raise DatasetError(f"Unknown dataset catalog {catalog!r}. Valid catalogs: {', '.join(DATASET_CATALOGS)}.")
    return [{"catalog": "torchvision", "name": name, "use_case": "image_classification"}
            for name in TORCHVISION_DATASETS]


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
    if use_case in USE_CASES:
        raise DatasetError(f"Custom datasets for {use_case} are not implemented yet.")
    raise DatasetError(f"Unknown use case {use_case!r}. Valid use cases: {', '.join(USE_CASES)}.")


def get_dataset(name: str, catalog: str, dataset_dir: str | Path, split: str = "train",
                framework: str = "pytorch", download: bool = True):
    """Load a dataset from a public catalog into `dataset_dir` (downloads when a network is there).

    Example:
        >>> ds = get_dataset("FashionMNIST", "torchvision", "data/catalog")
    """
    if catalog != "torchvision":
        raise DatasetError(f"Unknown dataset catalog {catalog!r}. Valid catalogs: {', '.join(DATASET_CATALOGS)}.")
    from tl_engine.datasets.torchvision_catalog import load_torchvision_dataset

    return load_torchvision_dataset(name, Path(dataset_dir), split, framework, download)
