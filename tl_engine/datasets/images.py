"""Image files: scanning class folders, validating images and converting them to RGB."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from tl_engine.errors import DatasetError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
BAD_FILE_POLICIES = ("skip", "error")


@dataclass(frozen=True)
class Sample:
    """One labelled file: a stable id (its path relative to the dataset root), its path and class name."""

    sample_id: str
    path: Path
    class_name: str


@dataclass
class ScanResult:
    """The samples of one folder tree, with the files that were skipped as unreadable."""

    samples: list[Sample]
    skipped: list[tuple[Path, str]]


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert grayscale, palette and RGBA images to RGB; transparent pixels become white."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_rgb(path: Path) -> Image.Image:
    """Open an image file as RGB (see `to_rgb`); an unreadable file raises DatasetError naming it."""
    try:
        with Image.open(path) as image:
            return to_rgb(image)
    except FileNotFoundError as exc:
        raise DatasetError(f"Image file not found: {path}.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path} is not a readable image ({exc}). Remove it or replace it with a valid "
                           "image file.") from exc


def check_image(path: Path) -> str | None:
    """Return why `path` is not a readable image, or None when it is one."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image file (suffix {path.suffix or 'none'!r})"
    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"corrupt image ({exc})"
    return None


def scan_class_folders(root: Path, on_bad_file: str = "skip", id_prefix: str = "") -> ScanResult:
    """List the images of `root/<class>/<file>`, one sub-folder per class.

    Unreadable files are skipped and counted (`on_bad_file="skip"`) or raise DatasetError
    (`on_bad_file="error"`). An empty class folder always raises, because training on a class
    with no samples cannot work.
    """
    if on_bad_file not in BAD_FILE_POLICIES:
        raise DatasetError(f"Invalid on_bad_file={on_bad_file!r}. Use one of: {', '.join(BAD_FILE_POLICIES)}.")
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"Dataset folder not found: {root}. Pass a folder with one sub-folder per class.")
    if not root.is_dir():
        raise DatasetError(f"{root} is a file, not a folder. Pass a folder with one sub-folder per class.")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not class_dirs:
        raise DatasetError(f"No class folders in {root}. Put each class's images in a sub-folder named after it.")
    samples: list[Sample] = []
    skipped: list[tuple[Path, str]] = []
    for class_dir in class_dirs:
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
        good = 0
        for path in files:
            problem = check_image(path)
            if problem is not None:
                if on_bad_file == "error":
                    raise DatasetError(f"Unreadable file {path}: {problem}. Remove it, or set on_bad_file='skip'.")
                skipped.append((path, problem))
                continue
            relative = path.relative_to(root).as_posix()
            samples.append(Sample(f"{id_prefix}{relative}", path, class_dir.name))
            good += 1
        if good == 0:
            raise DatasetError(
                f"Class folder {class_dir} contains no readable images. Add images to it or remove the folder."
            )
    if skipped:
        logger.warning("Skipped %d unreadable files under %s, for example %s: %s",
                       len(skipped), root, skipped[0][0], skipped[0][1])
    return ScanResult(samples, skipped)
