"""The per-use-case part of the pipeline steps: reading a day, building the dataset, quantizing.

Image tasks land `<day>/<class>/<image>` folders; text tasks land `<day>/*.csv` files with a
`label` and a `text` column. Everything else in the pipeline is shared.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tl_engine.datasets.splits import SPLIT_NAMES
from tl_engine.errors import DatasetError
from tl_engine.pipeline.config import TaskSettings


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ImageUseCase:
    """Class folders of images; INT8 by Neural Compressor's static quantization, run compiled."""

    manifest_columns = ["sample_id", "class_name", "sha256"]
    int8_variant = "int8_compiled"
    # Measured too for PyTorch models where Intel Extension for PyTorch is installed.
    ipex_variants = ("ipex_fp32", "ipex_bf16", "ipex_int8")
    int8_methods = {"pytorch": "neural-compressor 3.10 static PT2E, compiled with torch.compile (inductor)",
                    "tensorflow": "neural-compressor 3.10 static, on the SavedModel (oneDNN INT8 kernels)"}

    def scan_day(self, task: TaskSettings, folder: Path, day: str) -> tuple[list[tuple], list]:
        """List `(sample_id, class_name, sha256)` for the readable images of one day, and the skipped files."""
        from tl_engine.datasets.images import scan_class_folders

        scan = scan_class_folders(folder, task.on_bad_file, id_prefix=f"{day}/")
        return [(s.sample_id, s.class_name, _sha256(s.path.read_bytes())) for s in scan.samples], scan.skipped

    def samples(self, task: TaskSettings, rows: list[dict]) -> list:
        from tl_engine.datasets.images import Sample

        return [Sample(r["sample_id"], task.landing_dir / r["sample_id"], r["class_name"]) for r in rows]

    def dataset(self, samples: list, class_names: list[str], splits: dict, framework: str = "pytorch"):
        from tl_engine.datasets.image_folder import ImageClassificationDataset

        return ImageClassificationDataset(samples, class_names, framework=framework, splits=splits)

    def payload(self, sample) -> str:
        """Return what the benchmark worker reads to measure accuracy: the image path."""
        return str(sample.path)

    def model_options(self, training) -> dict:
        return {"image_size": training.image_size, "head_hidden_units": training.head_hidden_units,
                "dropout": training.dropout}

    def uses_feature_cache(self, training) -> bool:
        return not training.fine_tune

    def quantize(self, classifier, dataset, directory: Path, task: TaskSettings, progress: bool, extra: dict):
        if classifier.framework == "tensorflow":
            from tl_engine.quantization.tf_static import quantize_tf_classifier as quantize_static
        else:
            from tl_engine.quantization.torch_int8 import quantize_static
        quantize_static(classifier, dataset, directory, task.quantization.calibration_samples, progress,
                        extra_metadata=extra)


class TextUseCase:
    """CSV files of labelled texts; INT8 by PyTorch's dynamic quantization of the linear layers."""

    manifest_columns = ["sample_id", "class_name", "sha256", "text"]
    int8_variant = "int8_dynamic"
    # Measured too where Intel Extension for PyTorch is installed; IPEX static INT8 takes image inputs only.
    ipex_variants = ("ipex_fp32", "ipex_bf16")
    int8_methods = {"pytorch": "PyTorch dynamic quantization of every Linear layer (INT8 weights, per-batch "
                               "activation scales)"}

    def scan_day(self, task: TaskSettings, folder: Path, day: str) -> tuple[list[tuple], list]:
        """List `(sample_id, class_name, sha256, text)` for every row of the day's CSV files."""
        from tl_engine.datasets.text_csv import read_text_csv

        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".tsv"))
        if not files:
            raise DatasetError(f"Day folder {folder} contains no .csv or .tsv file. Text tasks land CSV files "
                               "with a `label` and a `text` column.")
        rows = []
        for path in files:
            delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
            for sample in read_text_csv(path, "label", "text", delimiter):
                rows.append((f"{day}/{sample.sample_id}", sample.class_name, _sha256(sample.text.encode()),
                             sample.text))
        return rows, []

    def samples(self, task: TaskSettings, rows: list[dict]) -> list:
        from tl_engine.datasets.text_csv import TextSample

        return [TextSample(r["sample_id"], r["text"], r["class_name"]) for r in rows]

    def dataset(self, samples: list, class_names: list[str], splits: dict, framework: str = "pytorch"):
        from tl_engine.datasets.text import TextClassificationDataset

        return TextClassificationDataset(samples, class_names, framework=framework, splits=splits)

    def payload(self, sample) -> str:
        """Return what the benchmark worker reads to measure accuracy: the text."""
        return sample.text

    def model_options(self, training) -> dict:
        return {"max_length": training.max_length}

    def uses_feature_cache(self, training) -> bool:
        # Text models are fine-tuned whole, so there are no frozen features to cache.
        return False

    def quantize(self, classifier, dataset, directory: Path, task: TaskSettings, progress: bool, extra: dict):
        from tl_engine.quantization.hf_dynamic import quantize_dynamic

        quantize_dynamic(classifier, directory, extra_metadata=extra)


USE_CASES = {"image_classification": ImageUseCase(), "text_classification": TextUseCase()}


def use_case_of(task: TaskSettings):
    """Return the use-case behaviour of a task."""
    return USE_CASES[task.use_case]


def split_indices(samples: list, membership: dict[str, str]) -> dict[str, list[int]]:
    """Group sample indices by the split each sample id was assigned to."""
    return {name: [i for i, s in enumerate(samples) if membership[s.sample_id] == name] for name in SPLIT_NAMES}
