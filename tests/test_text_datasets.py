"""Text datasets from delimited files of real Rotten Tomatoes snippets: the variants users have, and bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tl_engine.dataset_factory import get_dataset, load_dataset
from tl_engine.datasets.text import TextClassificationDataset
from tl_engine.demo_text_data import load_reviews, write_review_drops
from tl_engine.errors import DatasetError


@pytest.fixture(scope="module")
def reviews() -> list[tuple[str, str]]:
    """Twelve real review snippets, six of each class, alternating."""
    rows = load_reviews()
    fresh = [row for row in rows if row[0] == "fresh"][:6]
    rotten = [row for row in rows if row[0] == "rotten"][:6]
    return [row for pair in zip(fresh, rotten) for row in pair]


def write_rows(path: Path, rows, delimiter: str = ",", header=("label", "text"), encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as stream:
        writer = csv.writer(stream, delimiter=delimiter)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def test_header_names_choose_columns(tmp_path, reviews):
    path = write_rows(tmp_path / "r.csv", [(text, label, "x") for label, text in reviews],
                      header=("review", "sentiment", "source"))

    dataset = TextClassificationDataset.from_csv(path, label_column="sentiment", text_column="review")

    assert dataset.class_names == ["fresh", "rotten"]
    assert dataset.samples[0].text == reviews[0][1]
    assert dataset.labels[:2] == [0, 1]


def test_indexes_without_header(tmp_path, reviews):
    path = write_rows(tmp_path / "r.csv", [(text, label) for label, text in reviews], header=None)

    dataset = TextClassificationDataset.from_csv(path, label_column="1", text_column=0, header=False)

    assert len(dataset) == 12
    assert dataset.samples[0].sample_id == "r.csv:1"


@pytest.mark.parametrize("spelling", ["\t", "\\t", "tab"])
def test_tab_delimiter_spellings(tmp_path, reviews, spelling):
    path = write_rows(tmp_path / "r.tsv", reviews, delimiter="\t")

    dataset = TextClassificationDataset.from_csv(path, "label", "text", delimiter=spelling)

    assert [s.text for s in dataset.samples] == [text for _, text in reviews]


def test_quoted_fields_keep_delimiters_and_newlines(tmp_path, reviews):
    rows = [(label, f"{text}\nSecond line, with a comma; and a semicolon") for label, text in reviews]
    path = write_rows(tmp_path / "r.csv", rows, delimiter=";")

    dataset = TextClassificationDataset.from_csv(path, "label", "text", delimiter=";")

    assert dataset.samples[0].text.endswith("Second line, with a comma; and a semicolon")
    assert dataset.samples[1].sample_id == "r.csv:4"  # each record spans two lines after the header


def test_explicit_class_names_set_ids(tmp_path, reviews):
    path = write_rows(tmp_path / "r.csv", reviews)

    dataset = TextClassificationDataset.from_csv(path, "label", "text", class_names=["rotten", "fresh"])

    assert dataset.labels[:2] == [1, 0]


def test_factory_finds_single_file_in_folder(tmp_path, reviews):
    write_rows(tmp_path / "reviews.csv", reviews)

    dataset = load_dataset(tmp_path, "text_classification", label_column="label", text_column="text")

    assert len(dataset) == 12


def test_local_file_through_datasets(tmp_path, reviews, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    path = write_rows(tmp_path / "r.csv", reviews)

    dataset = get_dataset("csv", "huggingface", tmp_path / "cache", data_files=str(path))

    assert dataset.class_names == ["fresh", "rotten"]
    assert len(dataset) == 12


def test_review_drops_are_balanced(tmp_path):
    written = write_review_drops(tmp_path, ["2026-11-01", "2026-11-02"], samples=40)

    dataset = TextClassificationDataset.from_csv(tmp_path / "2026-11-01" / "reviews.csv", "label", "text")
    assert written == {"2026-11-01": 20, "2026-11-02": 20}
    assert (tmp_path / "2026-11-02" / "_READY").is_file()
    assert set(dataset.class_names) == {"fresh", "rotten"}


def bad_file(tmp_path: Path, reviews, case: str) -> tuple[Path, dict]:
    """Write the file of one bad-input case; return it with the reader's keyword arguments."""
    path = tmp_path / "bad.csv"
    options = {"label_column": "label", "text_column": "text"}
    if case == "missing label column":
        write_rows(path, reviews, header=("sentiment", "text"))
    elif case == "missing text column":
        options["text_column"] = "review"
        write_rows(path, reviews)
    elif case == "index out of range":
        options["text_column"] = 5
        write_rows(path, reviews)
    elif case == "empty text":
        write_rows(path, [*reviews[:3], ("fresh", "  "), *reviews[3:]])
    elif case == "empty label":
        write_rows(path, [*reviews[:2], ("", "A film."), *reviews[2:]])
    elif case == "one class":
        write_rows(path, [row for row in reviews if row[0] == "fresh"])
    elif case == "wrong field count":
        write_rows(path, [*reviews[:4], ("fresh", "A film", "extra"), *reviews[4:]])
    elif case == "not utf-8":
        plain = [row for row in reviews if row[1].isascii()]
        write_rows(path, [*plain[:4], ("rotten", "Un film trop long, mal jou\u00e9."), *plain[4:]],
                   encoding="cp1252")
    elif case == "one column":
        options["delimiter"] = "\t"
        write_rows(path, reviews)
    elif case == "name without header":
        options["header"] = False
        write_rows(path, reviews, header=None)
    return path, options


BAD_INPUTS = [
    ("missing label column", "has no label column 'label'. Columns: sentiment, text"),
    ("missing text column", "has no text column 'review'. Columns: label, text"),
    ("index out of range", "has 2 columns, so the text column index 5 does not exist"),
    ("empty text", "line 5, column 'text': the text is empty"),
    ("empty label", "line 4, column 'label': the label is empty"),
    ("one class", "has one class only ('fresh')"),
    ("wrong field count", "line 6 has 3 fields, but the first row has 2"),
    ("not utf-8", "line 6 is not valid utf-8 (byte 0xe9). Pass the file's encoding, for example "
                  "encoding='cp1252'"),
    ("one column", "The delimiter '\\t' finds one column only in"),
    ("name without header", "is read without a header"),
]


@pytest.mark.parametrize(("case", "message"), BAD_INPUTS)
def test_bad_file_names_line_and_column(tmp_path, reviews, case, message):
    path, options = bad_file(tmp_path, reviews, case)

    with pytest.raises(DatasetError) as error:
        TextClassificationDataset.from_csv(path, **options)

    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_other_encoding_reads_when_given(tmp_path, reviews):
    path, options = bad_file(tmp_path, reviews, "not utf-8")

    dataset = TextClassificationDataset.from_csv(path, encoding="cp1252", **options)

    assert dataset.samples[4].text == "Un film trop long, mal jou\u00e9."
