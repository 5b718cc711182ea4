"""Regenerate the torchvision part of tl_engine/catalog/models.yaml from torchvision's weights enums.

Run it after a torchvision upgrade: `python scripts/build_catalog.py`. Entries that do not come from
torchvision (for example EfficientNet-Lite0) are kept as they are.
"""

from pathlib import Path

import torchvision.models as tvm
import yaml

CATALOG = Path(__file__).resolve().parents[1] / "tl_engine" / "catalog" / "models.yaml"


def torchvision_entries() -> list[dict]:
    entries = []
    for name in sorted(tvm.list_models(module=tvm)):
        weights_enum = tvm.get_model_weights(name)
        weights = weights_enum["IMAGENET1K_V1"] if "IMAGENET1K_V1" in weights_enum.__members__ else weights_enum.DEFAULT
        transforms = weights.transforms()
        entries.append({
            "name": name,
            "framework": "pytorch",
            "use_case": "image_classification",
            "hub": "torchvision",
            "hub_id": f"{weights_enum.__name__}.{weights.name}",
            "weights_file": Path(weights.url).name,
            "input_size": int(transforms.crop_size[0]),
            "preprocessing": {
                "resize": int(transforms.resize_size[0]),
                "mean": [round(float(v), 4) for v in transforms.mean],
                "std": [round(float(v), 4) for v in transforms.std],
            },
            "parameters": int(weights.meta["num_params"]),
        })
    return entries


def main() -> None:
    existing = yaml.safe_load(CATALOG.read_text()) if CATALOG.exists() else {"models": []}
    other_hubs = [entry for entry in existing["models"] if entry["hub"] != "torchvision"]
    models = torchvision_entries() + other_hubs
    CATALOG.write_text(yaml.safe_dump({"models": models}, sort_keys=False, width=120))


if __name__ == "__main__":
    main()
