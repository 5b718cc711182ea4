"""Backbone features kept in `.npy` files and read back in batches, so their size does not limit memory.

A frozen backbone's features are one float32 row per image (1,280 values for MobileNetV2, 5 KB).
`FeatureWriter` writes them in blocks of rows as the backbone produces them, and `FeatureFile`
reads any rows back with positioned reads (`os.preadv`) into a buffer of the batch's size. The rows
stay in the operating system's file cache, not in the process, so the process's memory does not grow
with the dataset. A `FeatureFile` indexes like an array (`features[rows]`, `features[a:b]`), which lets
the training loops take either one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tl_engine.errors import ArtifactError

DTYPE = np.dtype(np.float32)
# Rows per read when a whole file is scanned: 2,048 MobileNetV2 rows are 10 MB.
CHUNK_ROWS = 2048
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class FeatureWriter:
    """Writes a known number of feature rows to a new `.npy` file, block by block.

    The file appears under its name only once every row is written, so an interrupted run leaves
    no truncated file behind.
    """

    def __init__(self, path: str | Path, rows: int, feature_dim: int):
        self.path = Path(path)
        self.rows, self.feature_dim, self.written = int(rows), int(feature_dim), 0
        self._partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self._partial, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(DTYPE), "fortran_order": False,
                  "shape": (self.rows, self.feature_dim)}
        np.lib.format.write_array_header_1_0(self._file, header)

    def write(self, block: np.ndarray) -> None:
        """Append rows of shape `[n, feature_dim]` after the rows written so far."""
        block = np.ascontiguousarray(block, dtype=DTYPE)
        if block.ndim != 2 or block.shape[1] != self.feature_dim or self.written + len(block) > self.rows:
            raise ValueError(f"Invalid block shape {block.shape} for {self.path}: the file has room for "
                             f"{self.rows} rows of {self.feature_dim} features, and {self.written} are written.")
        self._file.write(block.tobytes())
        self.written += len(block)

    def close(self) -> "FeatureFile":
        """Check that every row was written, publish the file under its name and open it for reading."""
        self._file.close()
        if self.written != self.rows:
            self._partial.unlink(missing_ok=True)
            raise ValueError(f"{self.path} expected {self.rows} rows, but {self.written} were written.")
        self._partial.replace(self.path)
        return FeatureFile(self.path)

    def discard(self) -> None:
        """Close and delete the unfinished file."""
        self._file.close()
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> "FeatureWriter":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is not None:
            self.discard()


class FeatureFile:
    """A 2-D float32 `.npy` file of feature rows, read on demand.

    `features[index]` with an integer array returns those rows in that order, and `features[a:b]` a
    block, both as new arrays. `len()`, `shape`, `dtype` and `nbytes` are those of the whole file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise ArtifactError(f"Feature file {self.path} is missing. Extract the features again.")
        self._file = open(self.path, "rb")
        try:
            version = np.lib.format.read_magic(self._file)
            if version not in HEADER_READERS:
                raise ValueError(f"format version {version} is not supported")
            shape, fortran_order, dtype = HEADER_READERS[version](self._file)
        except ValueError as error:
            self._file.close()
            raise ArtifactError(f"{self.path} is not a valid .npy file ({error}). Extract the features again.") from error
        if len(shape) != 2 or fortran_order or dtype != DTYPE:
            self._file.close()
            raise ArtifactError(f"{self.path} contains a {dtype} array of shape {shape}; tl expects 2-D float32 "
                                "rows in C order. Extract the features again.")
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = DTYPE
        self._offset = self._file.tell()
        self._row_bytes = self.shape[1] * DTYPE.itemsize
        expected_size = self._offset + self.shape[0] * self._row_bytes
        if os.fstat(self._file.fileno()).st_size != expected_size:
            self._file.close()
            raise ArtifactError(f"{self.path} is truncated or padded: its header gives {self.shape[0]} rows. "
                                "Extract the features again.")

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self._row_bytes

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"FeatureFile({str(self.path)!r}, shape={self.shape})"

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.shape[0])
            if step != 1:
                raise IndexError("FeatureFile slices take no step; index with an array of rows instead.")
            return self._read_block(start, max(start, stop))
        rows = np.asarray(index)
        if rows.ndim != 1 or rows.dtype.kind not in "iu":
            raise IndexError(f"Index a FeatureFile with a slice or a 1-D integer array, not {index!r}.")
        if len(rows) and (rows.min() < -self.shape[0] or rows.max() >= self.shape[0]):
            raise IndexError(f"Row index out of range for {self.shape[0]} rows.")
        rows = np.where(rows < 0, rows + self.shape[0], rows)
        output = np.empty((len(rows), self.shape[1]), dtype=DTYPE)
        descriptor = self._file.fileno()
        for position, row in enumerate(rows.tolist()):
            self._read_into(descriptor, output[position], self._offset + row * self._row_bytes)
        return output

    def _read_block(self, start: int, stop: int) -> np.ndarray:
        output = np.empty((stop - start, self.shape[1]), dtype=DTYPE)
        if stop > start:
            self._read_into(self._file.fileno(), output, self._offset + start * self._row_bytes)
        return output

    def _read_into(self, descriptor: int, buffer: np.ndarray, offset: int) -> None:
        view = memoryview(buffer).cast("B")
        while len(view):
            count = os.preadv(descriptor, [view], offset)
            if count == 0:
                raise ArtifactError(f"{self.path} ended early at byte {offset}. Extract the features again.")
            view, offset = view[count:], offset + count

    def close(self) -> None:
        """Close the file; the object cannot read afterwards."""
        self._file.close()


def blocks(features, rows: int = CHUNK_ROWS):
    """Yield consecutive row blocks of an array or a FeatureFile, at most `rows` rows each."""
    for start in range(0, len(features), rows):
        yield features[start:start + rows]


def mean_and_std(features) -> tuple[np.ndarray, np.ndarray]:
    """Return each column's mean and population standard deviation as float32, reading block by block.

    Two passes in float64: the mean, then the squared deviations from it. Memory holds one block.
    """
    count = len(features)
    if count == 0:
        raise ValueError("Cannot standardize features of an empty training subset.")
    total = np.zeros(features.shape[1], dtype=np.float64)
    for block in blocks(features):
        total += block.sum(0, dtype=np.float64)
    mean = total / count
    squares = np.zeros_like(mean)
    for block in blocks(features):
        squares += np.square(block - mean).sum(0)
    return mean.astype(np.float32), np.sqrt(squares / count).astype(np.float32)
