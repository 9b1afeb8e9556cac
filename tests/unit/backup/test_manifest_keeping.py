"""Keeping the manifest: adoption once, files restic wrote, partial files of an unfinished restic.

ListingStore stands in for a store (list_files and read only); the real stores are in the
integration suite (tests/integration/backup/test_foreign_files.py)."""

from __future__ import annotations

import hashlib

from backupctl import reach, state
from backupctl.actions import manifest as manifests


def pack(data: bytes) -> str:
    name = hashlib.sha256(data).hexdigest()
    return f"data/{name[:2]}/{name}"


class ListingStore:
    def __init__(self, name: str, files: dict[str, bytes]):
        self.name, self.files = name, files

    def list_files(self) -> dict[str, int]:
        return {path: len(data) for path, data in self.files.items()}

    def read(self, relative_path: str, *, limit: int | None = None) -> bytes:
        data = self.files[relative_path]
        assert limit is None or len(data) <= limit, "read beyond the limit the caller set"
        return data


def test_a_partial_file_of_an_unfinished_restic_is_not_adopted(tmp_path):
    db = state.db_path(tmp_path)
    state.establish_manifest(db, "s", {"config": 5}, how="init", location="a")
    whole, partial = b"whole pack", b"partial pack"
    store = ListingStore("a", {"config": b"12345", pack(whole): whole, pack(partial): partial[:4]})
    before = {"config": 5}
    reached = reach.Reached({"a": store}, {"a": before}, {})
    after = manifests.remember_written(db, "s", reached, "a", before, complete=False)
    assert set(after.listings["a"]) == {"config", pack(whole), pack(partial)}
    assert dict(state.load_manifest(db, "s").files) == {"config": 5, pack(whole): len(whole)}


def test_every_new_file_of_a_finished_restic_is_added_without_reading(tmp_path):
    db = state.db_path(tmp_path)
    state.establish_manifest(db, "s", {"config": 5}, how="init", location="a")
    store = ListingStore("a", {"config": b"12345", "index/" + "0" * 64: b"x"})
    store.read = None  # a finished restic's files are not read back
    reached = reach.Reached({"a": store}, {"a": {"config": 5}}, {})
    manifests.remember_written(db, "s", reached, "a", {"config": 5})
    assert dict(state.load_manifest(db, "s").files) == {"config": 5, "index/" + "0" * 64: 1}


def test_a_source_without_manifest_adopts_the_first_location_with_a_repository_once(tmp_path):
    db = state.db_path(tmp_path)
    reached = reach.Reached({}, {"a": {}, "b": {"config": 5, "keys/k": 9}}, {})
    adopted = manifests.current(db, "s", reached, ("a", "b"))
    assert dict(adopted.files) == {"config": 5, "keys/k": 9}
    assert state.manifest_origin(db, "s")["how"] == "adopted"
    later = reach.Reached({}, {"b": {"config": 5, "keys/k": 9, "snapshots/x": 1}}, {})
    assert manifests.current(db, "s", later, ("b",)) == adopted
    assert manifests.current(db, "t", reach.Reached({}, {"a": {}}, {}), ("a",)) is None
