"""The PyTorch side of image datasets: transforms and a map-style Dataset."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from tl_engine.datasets.images import load_rgb


def build_transform(preprocessing: dict):
    """Resize the shorter side to the input size, crop the centre, scale to [0, 1] and normalize."""
    size = int(preprocessing["input_size"])
    return v2.Compose([
        v2.PILToTensor(),
        v2.Resize(size, antialias=True),
        v2.CenterCrop(size),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=list(preprocessing["mean"]), std=list(preprocessing["std"])),
    ])


class TorchImageDataset(Dataset):
    """Images read from disk on access, so memory use does not grow with the dataset."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int], preprocessing: dict):
        self.paths = list(paths)
        self.labels = list(labels)
        self.transform = build_transform(preprocessing)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        return self.transform(load_rgb(self.paths[index])), self.labels[index]
