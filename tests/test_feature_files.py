"""Feature files: rows written block by block, read back in any order, and their column statistics."""

from __future__ import annotations

import numpy as np
import pytest

from tl_engine.errors import ArtifactError
from tl_engine.feature_files import FeatureFile, FeatureWriter, mean_and_std


@pytest.fixture
def rows() -> np.ndarray:
    return np.random.default_rng(0).normal(3.0, 2.0, size=(5000, 48)).astype(np.float32)


def write_rows(path, rows, block=64) -> FeatureFile:
    with FeatureWriter(path, len(rows), rows.shape[1]) as writer:
        for start in range(0, len(rows), block):
            writer.write(rows[start:start + block])
        return writer.close()


def test_written_file_loads_with_numpy(tmp_path, rows):
    path = tmp_path / "features" / "train.npy"

    write_rows(path, rows)

    assert np.array_equal(np.load(path), rows)


def test_row_array_reads_rows_in_order(tmp_path, rows):
    features = write_rows(tmp_path / "train.npy", rows)
    order = np.random.default_rng(1).permutation(len(rows))[:300]

    assert np.array_equal(features[order], rows[order])
    assert np.array_equal(features[np.array([-1, 0])], rows[[-1, 0]])
    assert features[np.array([], dtype=np.int64)].shape == (0, 48)


def test_slice_reads_a_block(tmp_path, rows):
    features = write_rows(tmp_path / "train.npy", rows)

    assert np.array_equal(features[100:2148], rows[100:2148])
    assert np.array_equal(features[4990:6000], rows[4990:])
    assert (len(features), features.shape, features.nbytes) == (5000, (5000, 48), rows.nbytes)


def test_invalid_index_raises(tmp_path, rows):
    features = write_rows(tmp_path / "train.npy", rows)

    with pytest.raises(IndexError, match="out of range"):
        features[np.array([5000])]
    with pytest.raises(IndexError, match="step"):
        features[::2]
    with pytest.raises(IndexError, match="integer array"):
        features[np.array([0.5])]


def test_statistics_match_numpy(tmp_path, rows):
    features = write_rows(tmp_path / "train.npy", rows)

    mean, std = mean_and_std(features)

    np.testing.assert_allclose(mean, rows.mean(0), rtol=1e-5)
    np.testing.assert_allclose(std, rows.std(0), rtol=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip(mean_and_std(rows), (mean, std)))


def test_statistics_of_no_rows_raise():
    with pytest.raises(ValueError, match="empty"):
        mean_and_std(np.empty((0, 4), dtype=np.float32))


def test_interrupted_write_leaves_no_file(tmp_path, rows):
    path = tmp_path / "train.npy"

    with pytest.raises(RuntimeError):
        with FeatureWriter(path, len(rows), rows.shape[1]) as writer:
            writer.write(rows[:64])
            raise RuntimeError("the backbone failed")

    assert list(tmp_path.iterdir()) == []


def test_missing_rows_raise_on_close(tmp_path, rows):
    writer = FeatureWriter(tmp_path / "train.npy", len(rows), rows.shape[1])
    writer.write(rows[:64])

    with pytest.raises(ValueError, match="expected 5000 rows, but 64"):
        writer.close()
    assert list(tmp_path.iterdir()) == []


def test_wrong_block_shape_raises(tmp_path, rows):
    with FeatureWriter(tmp_path / "train.npy", 10, rows.shape[1]) as writer:
        with pytest.raises(ValueError, match=r"Invalid block shape \(64, 48\)"):
            writer.write(rows[:64])
        writer.discard()


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(ArtifactError, match="missing. Extract the features again"):
        FeatureFile(tmp_path / "train.npy")


def test_truncated_file_raises(tmp_path, rows):
    path = tmp_path / "train.npy"
    write_rows(path, rows)
    path.write_bytes(path.read_bytes()[:-10])

    with pytest.raises(ArtifactError, match="truncated"):
        FeatureFile(path)


@pytest.mark.parametrize("array", [np.zeros((4, 3), dtype=np.float64), np.zeros(12, dtype=np.float32),
                                   np.asfortranarray(np.zeros((4, 3), dtype=np.float32))])
def test_other_arrays_raise(tmp_path, array):
    path = tmp_path / "train.npy"
    np.save(path, array)

    with pytest.raises(ArtifactError, match="expects 2-D float32"):
        FeatureFile(path)


def test_not_npy_file_raises(tmp_path):
    path = tmp_path / "train.npy"
    path.write_bytes(b"not an array")

    with pytest.raises(ArtifactError, match="not a valid .npy file"):
        FeatureFile(path)
