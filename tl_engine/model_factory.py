"""Getting pretrained models by name and framework, and loading trained ones from disk."""

from __future__ import annotations

from pathlib import Path

from tl_engine.catalog import ModelEntry, find_model
from tl_engine.catalog import list_models as _list_models
from tl_engine.errors import ArtifactError, CatalogError
from tl_engine.store import read_metadata


def list_models(framework: str | None = None, use_case: str | None = None) -> list[ModelEntry]:
    """Return the catalog entries for a framework and use case (both optional).

    Example:
        >>> names = [m.name for m in list_models(framework="pytorch", use_case="image_classification")]
    """
    return _list_models(framework, use_case)


def _model_class(entry: ModelEntry):
    if entry.framework == "pytorch" and entry.use_case == "image_classification":
        from tl_engine.models.torch_image import TorchImageClassifier

        return TorchImageClassifier
    if entry.framework == "tensorflow" and entry.use_case == "image_classification":
        from tl_engine.models.tf_image import TFImageClassifier

        return TFImageClassifier
    if entry.framework == "pytorch" and entry.hub == "huggingface":
        from tl_engine.models.hf_text import HFTextClassifier

        return HFTextClassifier
    raise CatalogError(f"{entry.use_case} with {entry.framework} is not implemented yet for {entry.name!r}.")


def get_model(model_name: str, framework: str, use_case: str | None = None, **kwargs):
    """Build a pretrained model from its hub, ready for a new head.

    Keyword arguments go to the model class, for example `image_size` and `head_hidden_units`.

    Example:
        >>> model = get_model("mobilenet_v2", "pytorch", image_size=128)
        >>> model.preprocessing["input_size"]
        128
    """
    entry = find_model(model_name, framework, use_case)
    return _model_class(entry)(entry, **kwargs)


def load_model(model_dir: str | Path):
    """Load a trained model from a directory written by `export` or `train(output_dir=...)`.

    The framework, model name and classes come from the directory's `tl_metadata.json`.

    Example:
        >>> model = load_model("out/fp32")
        >>> model.class_names[:2]
        ['bag', 'coat']
    """
    metadata = read_metadata(Path(model_dir))
    framework, use_case = metadata.get("framework"), metadata.get("use_case")
    try:
        entry = find_model(metadata["model_name"], framework, use_case)
        model_class = _model_class(entry)
    except CatalogError as exc:
        raise ArtifactError(f"Cannot load {model_dir}, a {framework} {use_case} model: {exc}") from exc
    return model_class.load(model_dir, entry)
