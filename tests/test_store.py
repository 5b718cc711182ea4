"""The artifact store: atomic publishing, the LATEST pointer and fingerprints."""

from __future__ import annotations

import json

import pytest

from tl_engine.errors import ArtifactError
from tl_engine.store import METADATA_FILE, ArtifactStore, atomic_directory, fingerprint, read_metadata


class InterruptedWrite(Exception):
    """The error that a test raises inside a write block, as a run that fails half-way would."""


def write_artifact(store: ArtifactStore, fingerprint_: str, partition: str = "2024-01-01") -> None:
    with store.write("model", partition, fingerprint_, {"model_name": "mobilenet_v2"}) as (directory, _):
        (directory / "model.pt").write_bytes(b"weights")


# atomic_directory


def test_atomic_directory_publishes_contents(tmp_path):
    final = tmp_path / "export"

    with atomic_directory(final) as temporary:
        (temporary / "model.pt").write_bytes(b"weights")

    assert (final / "model.pt").read_bytes() == b"weights"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export"]


def test_atomic_directory_error_leaves_nothing(tmp_path):
    final = tmp_path / "export"

    with pytest.raises(InterruptedWrite):
        with atomic_directory(final) as temporary:
            (temporary / "model.pt").write_bytes(b"half")
            raise InterruptedWrite

    assert not final.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_reuses_empty_folder(tmp_path):
    final = tmp_path / "export"
    final.mkdir()

    with atomic_directory(final) as temporary:
        (temporary / "model.pt").write_bytes(b"weights")

    assert (final / "model.pt").is_file()


def test_atomic_directory_rejects_nonempty_folder(tmp_path):
    final = tmp_path / "export"
    final.mkdir()
    (final / "old_model.pt").write_bytes(b"old weights")

    with pytest.raises(ArtifactError) as excinfo:
        with atomic_directory(final):
            pass

    assert str(final) in str(excinfo.value)
    assert (final / "old_model.pt").read_bytes() == b"old weights"


def test_atomic_directory_rejects_existing_file(tmp_path):
    final = tmp_path / "export"
    final.write_text("not a folder")

    with pytest.raises(ArtifactError) as excinfo:
        with atomic_directory(final):
            pass

    assert str(final) in str(excinfo.value)


# ArtifactStore


def test_store_write_publishes_metadata(tmp_path):
    store = ArtifactStore(tmp_path)

    with store.write("model", "2024-01-01", "abc123", {"model_name": "mobilenet_v2"}) as (directory, metadata):
        (directory / "model.pt").write_bytes(b"weights")
        metadata["accuracy"] = 0.9

    written = read_metadata(store.find("model", "2024-01-01", "abc123"))
    assert written["model_name"] == "mobilenet_v2"
    assert written["accuracy"] == 0.9
    assert written["fingerprint"] == "abc123"
    assert written["kind"] == "model"
    assert written["partition"] == "2024-01-01"


def test_store_failed_write_not_found(tmp_path):
    store = ArtifactStore(tmp_path)

    with pytest.raises(InterruptedWrite):
        with store.write("model", "2024-01-01", "abc123", {}) as (directory, _):
            (directory / "model.pt").write_bytes(b"half")
            raise InterruptedWrite

    assert store.find("model", "2024-01-01", "abc123") is None
    assert not store.path("model", "2024-01-01", "abc123").exists()
    assert store.latest("model", "2024-01-01") is None
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_store_failed_write_allows_retry(tmp_path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(InterruptedWrite):
        with store.write("model", "2024-01-01", "abc123", {}):
            raise InterruptedWrite

    write_artifact(store, "abc123")

    assert store.find("model", "2024-01-01", "abc123") == store.path("model", "2024-01-01", "abc123")


def test_store_find_ignores_dir_without_metadata(tmp_path):
    store = ArtifactStore(tmp_path)
    store.path("model", "2024-01-01", "abc123").mkdir(parents=True)

    assert store.find("model", "2024-01-01", "abc123") is None


def test_store_rewrite_same_fingerprint_raises(tmp_path):
    store = ArtifactStore(tmp_path)
    write_artifact(store, "abc123")

    with pytest.raises(ArtifactError) as excinfo:
        write_artifact(store, "abc123")

    assert str(store.path("model", "2024-01-01", "abc123")) in str(excinfo.value)


def test_store_latest_none_before_write(tmp_path):
    assert ArtifactStore(tmp_path).latest("model", "2024-01-01") is None


def test_store_latest_follows_last_write(tmp_path):
    store = ArtifactStore(tmp_path)

    write_artifact(store, "first")
    write_artifact(store, "second")

    assert store.latest("model", "2024-01-01") == store.path("model", "2024-01-01", "second")


def test_store_latest_follows_set_latest(tmp_path):
    store = ArtifactStore(tmp_path)
    write_artifact(store, "first")
    write_artifact(store, "second")

    store.set_latest("model", "2024-01-01", "first")

    assert store.latest("model", "2024-01-01") == store.path("model", "2024-01-01", "first")


def test_store_latest_is_per_partition(tmp_path):
    store = ArtifactStore(tmp_path)

    write_artifact(store, "monday", partition="2024-01-01")
    write_artifact(store, "tuesday", partition="2024-01-02")

    assert store.latest("model", "2024-01-01") == store.path("model", "2024-01-01", "monday")


def test_store_require_latest_names_kind(tmp_path):
    with pytest.raises(ArtifactError) as excinfo:
        ArtifactStore(tmp_path).require_latest("model", "2024-01-01")

    assert "model" in str(excinfo.value)
    assert "'2024-01-01'" in str(excinfo.value)


def test_read_metadata_missing_file_raises(tmp_path):
    with pytest.raises(ArtifactError) as excinfo:
        read_metadata(tmp_path)

    assert str(tmp_path) in str(excinfo.value)
    assert METADATA_FILE in str(excinfo.value)


def test_store_metadata_is_valid_json(tmp_path):
    store = ArtifactStore(tmp_path)
    write_artifact(store, "abc123")

    text = (store.path("model", "2024-01-01", "abc123") / METADATA_FILE).read_text()

    assert json.loads(text)["model_name"] == "mobilenet_v2"


# fingerprint


def test_fingerprint_is_deterministic():
    parts = ({"model": "mobilenet_v2", "epochs": 3}, ["coat", "sandal"], 0.6)

    assert fingerprint(*parts) == fingerprint(*parts)


def test_fingerprint_is_16_hex_digits():
    value = fingerprint({"model": "mobilenet_v2"})

    assert len(value) == 16
    assert set(value) <= set("0123456789abcdef")


def test_fingerprint_ignores_dict_key_order():
    assert fingerprint({"model": "mobilenet_v2", "epochs": 3}) == fingerprint({"epochs": 3, "model": "mobilenet_v2"})


def test_fingerprint_ignores_nested_key_order():
    first = {"training": {"epochs": 3, "seed": 0}, "model": "mobilenet_v2"}
    second = {"model": "mobilenet_v2", "training": {"seed": 0, "epochs": 3}}

    assert fingerprint(first) == fingerprint(second)


@pytest.mark.parametrize("changed", [
    {"model": "mobilenet_v2", "epochs": 4},
    {"model": "efficientnet_lite0", "epochs": 3},
    {"model": "mobilenet_v2", "epochs": 3, "seed": 1},
])
def test_fingerprint_changes_with_values(changed):
    assert fingerprint({"model": "mobilenet_v2", "epochs": 3}) != fingerprint(changed)


def test_fingerprint_keeps_list_order():
    assert fingerprint(["coat", "sandal"]) != fingerprint(["sandal", "coat"])


def test_written_artifacts_follow_umask(tmp_path):
    import os

    from tl_engine.store import write_json_atomic

    previous = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "model") as temporary:
            write_json_atomic(temporary / "tl_metadata.json", {"model_name": "m"})
    finally:
        os.umask(previous)

    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "model" / "tl_metadata.json").stat().st_mode & 0o777 == 0o644
