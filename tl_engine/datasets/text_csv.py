"""Reading labelled text from CSV and other delimited files, with errors that name the file, line and column."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from tl_engine.errors import DatasetError

# Spellings of a tab delimiter that users type on a command line or in YAML.
TAB_SPELLINGS = ("\t", "\\t", "tab", "TAB")


@dataclass(frozen=True)
class TextSample:
    """One labelled text: a stable id (`<file name>:<line>`), the text and its class name."""

    sample_id: str
    text: str
    class_name: str


def parse_delimiter(delimiter: str) -> str:
    """Return the one-character delimiter for a user's spelling: `,`, `;`, `|`, or a tab as `\\t` or `tab`."""
    if delimiter in TAB_SPELLINGS:
        return "\t"
    if len(delimiter) != 1:
        raise DatasetError(f"Invalid delimiter {delimiter!r}: use one character, or '\\t' for a tab.")
    return delimiter


def _decode(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        suggestion = "cp1252"
        try:
            raw.decode(suggestion)
        except UnicodeDecodeError:
            suggestion = "latin-1"
        raise DatasetError(f"{path} line {line} is not valid {encoding} (byte 0x{raw[exc.start]:02x}). "
                           f"Pass the file's encoding, for example encoding={suggestion!r} "
                           f"(--encoding {suggestion}).") from exc
    except LookupError as exc:
        raise DatasetError(f"Unknown encoding {encoding!r}. Use a Python codec name such as 'utf-8' or "
                           "'latin-1'.") from exc


def _column_index(column: str | int, header: list[str] | None, path: Path, role: str, width: int) -> int:
    """Resolve a column given by name or zero-based index (an int or a string of digits)."""
    if isinstance(column, int) or str(column).isdigit():
        index = int(column)
        if index >= width:
            raise DatasetError(f"{path} has {width} columns, so the {role} column index {index} does not exist. "
                               "Indexes start at 0.")
        return index
    if header is None:
        raise DatasetError(f"The {role} column {column!r} is a name, but {path} is read without a header. "
                           "Pass header=True, or give the column's index.")
    if column not in header:
        raise DatasetError(f"{path} has no {role} column {column!r}. Columns: {', '.join(header)}.")
    return header.index(column)


def read_text_csv(path: str | Path, label_column: str | int = 0, text_column: str | int = 1,
                  delimiter: str = ",", header: bool = True, encoding: str = "utf-8") -> list[TextSample]:
    """Read every labelled text of a delimited file; quoted fields may contain the delimiter and newlines.

    Columns are given by header name or by zero-based index. Blank lines are skipped; any other
    malformed row raises DatasetError naming the file and line.

    Example:
        >>> samples = read_text_csv("reviews.tsv", label_column="sentiment", text_column="review", delimiter="\\t")
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"Text dataset file not found: {path}. Pass a CSV file with a label and a text column.")
    separator = parse_delimiter(delimiter)
    reader = csv.reader(io.StringIO(_decode(path, encoding), newline=""), delimiter=separator)
    names: list[str] | None = None
    width = 0
    samples: list[TextSample] = []
    columns: tuple[int, int] | None = None
    line = 1
    for row in reader:
        first_line, line = line, reader.line_num + 1
        if not row or all(not field.strip() for field in row):
            continue
        if columns is None:
            width = len(row)
            if width < 2:
                printed = "'\\t'" if separator == "\t" else repr(separator)
                raise DatasetError(f"The delimiter {printed} finds one column only in {path} line {first_line}. "
                                   "Pass the file's delimiter, for example '\\t' for a tab-separated file.")
            names = [field.strip() for field in row] if header else None
            columns = (_column_index(label_column, names, path, "label", width),
                       _column_index(text_column, names, path, "text", width))
            if header:
                continue
        if len(row) != width:
            raise DatasetError(f"{path} line {first_line} has {len(row)} fields, but the first row has {width}. "
                               "Quote fields that contain the delimiter.")
        label, text = row[columns[0]].strip(), row[columns[1]].strip()
        for role, index, value in (("label", columns[0], label), ("text", columns[1], text)):
            if not value:
                column = names[index] if names else index
                raise DatasetError(f"{path} line {first_line}, column {column!r}: the {role} is empty. "
                                   "Fill it in or remove the row.")
        samples.append(TextSample(f"{path.name}:{first_line}", text, label))
    if not samples:
        raise DatasetError(f"{path} contains no labelled rows.")
    return samples
