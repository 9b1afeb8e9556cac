"""The copy logic of replication, run against an in-memory store.

FakeStore is an in-memory stand-in implementing the store API's read/write/list_files, so the pure
copy logic (which origin is read, what is written where, what happens after a failure) can be
tested fast and exactly; the real local, SFTP and S3 stores are covered by the integration suite.
"""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from backupctl.replication import plan as planning
from backupctl.replication import sync
from backupctl.replication.manifest import Manifest
from targets import errors as target_errors


def name_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(data: bytes) -> str:
    return f"data/{name_of(data)[:2]}/{name_of(data)}"


CONFIG = b"restic repository config (encrypted)"
KEY, DATA1, DATA2, INDEX, SNAPSHOT = b"key", b"pack one" * 50, b"pack two" * 70, b"index", b"snap"
REPOSITORY = {
    "config": CONFIG,
    f"keys/{name_of(KEY)}": KEY,
    pack(DATA1): DATA1,
    pack(DATA2): DATA2,
    f"index/{name_of(INDEX)}": INDEX,
    f"snapshots/{name_of(SNAPSHOT)}": SNAPSHOT,
}


class FakeStore:
    """In-memory stand-in for a RepositoryStore (see the module docstring)."""

    def __init__(
        self,
        name: str,
        files: dict[str, bytes] | None = None,
        *,
        fail_write_on: str | None = None,
        fail_read_on: str | None = None,
    ):
        self.name = name
        self.files = dict(files or {})
        self.fail_write_on = fail_write_on  # a path prefix whose write raises
        self.fail_read_on = fail_read_on
        self.write_attempts: list[str] = []
        self.reads: list[str] = []
        self._lock = threading.Lock()

    def list_files(self) -> dict[str, int]:
        return {path: len(data) for path, data in self.files.items()}

    def read(self, relative_path: str, *, limit: int | None = None) -> bytes:
        self.reads.append(relative_path)
        if self.fail_read_on and relative_path.startswith(self.fail_read_on):
            raise target_errors.LocationUnavailable(f"location {self.name}: read timed out")
        if relative_path not in self.files:
            raise target_errors.FileMissing(f"location {self.name}: {relative_path} missing")
        if limit is not None and len(self.files[relative_path]) > limit:  # as every real store does
            raise target_errors.TargetError(f"location {self.name}: {relative_path} is too large")
        return self.files[relative_path]

    def write(self, relative_path: str, data: bytes) -> None:
        with self._lock:
            self.write_attempts.append(relative_path)
        if self.fail_write_on and relative_path.startswith(self.fail_write_on):
            raise target_errors.LocationUnavailable(f"location {self.name}: disk full")
        self.files[relative_path] = data


MANIFEST = Manifest({path: len(data) for path, data in REPOSITORY.items()})


def run(*stores: FakeStore, on_bytes=None, manifest: Manifest = MANIFEST) -> sync.SyncReport:
    by_name = {store.name: store for store in stores}
    listings = {store.name: store.list_files() for store in stores}
    sync.check_configs(by_name, listings)
    the_plan = planning.plan(manifest, listings, tuple(by_name))
    return sync.sync(by_name, the_plan, on_bytes=on_bytes)


def intact(files: dict[str, bytes]) -> bool:
    return all(path == "config" or path.endswith(name_of(data)) for path, data in files.items())


def test_an_empty_location_receives_everything_in_order_and_is_counted():
    origin, empty = FakeStore("a", REPOSITORY), FakeStore("b", {})
    copied: list[int] = []
    report = run(origin, empty, on_bytes=copied.append)
    assert empty.files == REPOSITORY
    assert [path.split("/")[0] for path in empty.write_attempts] == [
        "config",
        "keys",
        "data",
        "data",
        "index",
        "snapshots",
    ]
    assert origin.write_attempts == []
    b = report.destinations["b"]
    assert (b.files_copied, b.bytes_copied, b.error, b.repaired) == (
        6,
        sum(map(len, REPOSITORY.values())),
        None,
        (),
    )
    assert report.destinations["a"].files_copied == 0
    assert sum(copied) == b.bytes_copied
    assert report.damaged_at_origin == () and report.unrecoverable == ()


def test_locations_that_agree_exchange_nothing():
    a, b = FakeStore("a", REPOSITORY), FakeStore("b", REPOSITORY)
    report = run(a, b)
    assert a.write_attempts == b.write_attempts == []
    assert all(d.files_copied == 0 for d in report.destinations.values())


def test_each_location_gets_what_only_the_other_has():
    half = dict(list(REPOSITORY.items())[:3])
    other = {"config": CONFIG, **dict(list(REPOSITORY.items())[3:])}
    a, b = FakeStore("a", half), FakeStore("b", other)
    run(a, b)
    assert a.files == b.files == REPOSITORY


def test_damaged_file_at_the_preferred_origin_is_read_from_the_next_and_never_copied():
    path = pack(DATA1)
    damaged = dict(REPOSITORY, **{path: b"X" * len(DATA1)})  # same size, wrong content
    a, b, c = FakeStore("a", damaged), FakeStore("b", REPOSITORY), FakeStore("c", {})
    report = run(a, b, c)
    assert c.files[path] == DATA1
    assert intact(c.files) and c.files == REPOSITORY
    assert report.damaged_at_origin == (f"a:{path}",)
    assert path in a.reads and path in b.reads
    assert b.write_attempts == []  # b already held the intact copy
    assert report.unrecoverable == ()


def test_damaged_copy_of_the_right_size_at_an_origin_is_replaced_by_the_verified_one():
    path = pack(DATA1)
    damaged = dict(REPOSITORY, **{path: b"X" * len(DATA1)})
    a, b, c = FakeStore("a", damaged), FakeStore("b", REPOSITORY), FakeStore("c", {})
    report = run(a, b, c)
    assert a.files[path] == DATA1
    assert a.write_attempts == [path]
    assert report.destinations["a"].repaired == (path,)


def test_file_damaged_everywhere_is_unrecoverable_and_not_copied():
    path = pack(DATA2)
    damaged = dict(REPOSITORY, **{path: b"Y" * len(DATA2)})
    a, c = FakeStore("a", damaged), FakeStore("c", {})
    report = run(a, c)
    assert report.unrecoverable == (path,)
    assert report.damaged_at_origin == (f"a:{path}",)
    assert path not in c.files and path not in c.write_attempts
    assert set(c.files) == set(REPOSITORY) - {path}


def test_unreadable_origin_falls_back_to_the_next():
    a = FakeStore("a", REPOSITORY, fail_read_on="data/")
    b, c = FakeStore("b", REPOSITORY), FakeStore("c", {})
    report = run(a, b, c)
    assert c.files == REPOSITORY
    assert report.damaged_at_origin == () and report.unrecoverable == ()


def test_a_copy_of_the_wrong_size_is_repaired_and_reported():
    path = f"index/{name_of(INDEX)}"
    truncated = dict(REPOSITORY, **{path: INDEX[:-1]})
    a, b = FakeStore("a", REPOSITORY), FakeStore("b", truncated)
    report = run(a, b)
    assert b.files[path] == INDEX
    assert report.destinations["b"].repaired == (path,)
    assert report.destinations["b"].files_copied == 1
    assert a.write_attempts == []


def test_failed_write_stops_that_destination_but_not_the_other():
    a = FakeStore("a", REPOSITORY)
    broken = FakeStore("b", {}, fail_write_on="data/")
    healthy = FakeStore("c", {})
    report = run(a, broken, healthy)
    assert healthy.files == REPOSITORY
    assert report.destinations["c"].error is None
    assert report.destinations["c"].files_copied == len(REPOSITORY)
    first_data = next(p for p in broken.write_attempts if p.startswith("data/"))
    assert broken.write_attempts[-1] == first_data  # nothing attempted after the failed write
    assert not any(p.startswith(("index/", "snapshots/")) for p in broken.files)
    assert set(broken.files) == {"config", f"keys/{name_of(KEY)}"}
    assert report.destinations["b"].error == "location b: disk full"
    assert report.destinations["b"].files_copied == 2


def test_failed_write_stops_the_destination_across_many_files():
    packs = {pack(bytes([n]) * 10): bytes([n]) * 10 for n in range(40)}
    snapshot = {f"snapshots/{name_of(SNAPSHOT)}": SNAPSHOT}
    first = sorted(packs)[3]
    a = FakeStore("a", {"config": CONFIG, **packs, **snapshot})
    manifest = Manifest(a.list_files())

    class FailsOnce(FakeStore):
        def write(self, relative_path, data):
            if relative_path == first:
                self.fail_write_on = first
            super().write(relative_path, data)

    broken, healthy = FailsOnce("b", {}), FakeStore("c", {})
    report = run(a, broken, healthy, manifest=manifest)
    assert broken.write_attempts[-1] == first
    assert len(broken.write_attempts) == 1 + 4  # config and three packs before it
    assert f"snapshots/{name_of(SNAPSHOT)}" not in broken.files
    assert healthy.files == a.files
    assert report.destinations["b"].files_copied == 4
    assert report.destinations["c"].files_copied == 42


def test_different_configs_raise_config_conflict_before_any_write():
    a = FakeStore("a", REPOSITORY)
    b = FakeStore("b", {"config": b"another repository"})
    with pytest.raises(sync.ConfigConflict, match="a, b hold different restic repositories"):
        run(a, b)
    assert a.write_attempts == b.write_attempts == []
    assert sync.ConfigConflict.exit_code == 3


def test_equal_configs_and_missing_config_are_no_conflict():
    a, b, c = FakeStore("a", REPOSITORY), FakeStore("b", {"config": CONFIG}), FakeStore("c", {})
    run(a, b, c)
    assert b.files == c.files == REPOSITORY


def test_a_planted_file_is_never_read_nor_copied():
    planted = b"random bytes named by their hash"
    planted_path = f"snapshots/{name_of(planted)}"
    a = FakeStore("a", {**REPOSITORY, planted_path: planted})
    b = FakeStore("b", {})
    run(a, b)
    assert b.files == REPOSITORY
    assert planted_path not in a.reads and planted_path not in b.write_attempts


def test_a_copy_of_another_size_at_an_origin_is_never_read_and_is_replaced():
    path = pack(DATA1)
    big = dict(REPOSITORY, **{path: DATA1 + b"\0" * 10_000})  # grown: not the manifest size
    a, b, c = FakeStore("a", big), FakeStore("b", REPOSITORY), FakeStore("c", {})
    report = run(a, b, c)
    assert path not in a.reads
    assert a.files[path] == DATA1 and c.files[path] == DATA1
    assert report.destinations["a"].repaired == (path,)


def test_files_deleted_by_the_toolkit_are_removed_at_every_location():
    gone = f"snapshots/{name_of(SNAPSHOT)}"
    manifest = Manifest({p: len(d) for p, d in REPOSITORY.items() if p != gone}, frozenset({gone}))
    a, b = FakeStore("a", REPOSITORY), FakeStore("b", REPOSITORY)

    def delete(store):
        def remove(relative_path):
            del store.files[relative_path]

        return remove

    a.delete, b.delete = delete(a), delete(b)
    report = run(a, b, manifest=manifest)
    assert gone not in a.files and gone not in b.files
    assert report.destinations["a"].removed == (gone,) == report.destinations["b"].removed


def test_interruption_does_not_wait_for_a_writer_stuck_on_a_remote_write():
    """A stand-in for a remote write that never returns (a dead SFTP peer): it blocks until the
    store is closed. The real case is tests/integration/backup/test_replication_interrupt.py."""
    release, entered = threading.Event(), threading.Event()

    class Stuck(FakeStore):
        closed = False

        def write(self, relative_path, data):
            if relative_path.startswith("data/"):
                entered.set()
                release.wait(60)
            super().write(relative_path, data)

        def close(self):
            self.closed = True

    class InterruptedReader(FakeStore):
        def read(self, relative_path, *, limit=None):
            if relative_path.startswith("index/"):
                assert entered.wait(10), "the writer never started its stuck write"
                raise KeyboardInterrupt  # what SIGTERM raises in the main thread
            return super().read(relative_path, limit=limit)

    a, stuck = InterruptedReader("a", REPOSITORY), Stuck("b", {})
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run(a, stuck)
    elapsed = time.monotonic() - started
    release.set()
    assert entered.is_set() and elapsed < sync.STOP_SECONDS + 2
    assert stuck.closed
    assert not any(p.startswith(("index/", "snapshots/")) for p in stuck.write_attempts)


def test_a_writer_thread_starts_only_for_a_location_that_gets_a_write(monkeypatch):
    started: list[str] = []

    class CountingWriter(sync._Writer):
        def __init__(self, name: str) -> None:
            started.append(name)
            super().__init__(name)

    monkeypatch.setattr(sync, "_Writer", CountingWriter)
    run(FakeStore("a", REPOSITORY), FakeStore("b", REPOSITORY))
    assert started == []
    run(FakeStore("a", REPOSITORY), FakeStore("b", {}), FakeStore("c", REPOSITORY))
    assert started == ["b"]
