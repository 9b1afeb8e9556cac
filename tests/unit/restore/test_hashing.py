"""The restore's hasher over real files in a temporary directory (restic's reports are fed as
the paths it would print)."""

from __future__ import annotations

import hashlib
import pathlib

import pytest

from backupctl.restic.restoring import Node, restored_item
from backupctl.restore import hashing


def _file(staging: pathlib.Path, path: str, content: bytes) -> Node:
    target = staging / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return Node(path, path.rsplit("/", 1)[1], "file", len(content))


def _listing(staging: pathlib.Path) -> tuple[Node, ...]:
    return (
        Node("/srv", "srv", "dir", 0),
        _file(staging, "/srv/a.bin", b"a" * 3_000_001),
        _file(staging, "/srv/b.bin", b"bb"),
        _file(staging, "/srv/empty", b""),
        Node("/srv/link", "link", "symlink", 0),
    )


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_files_reported_early_and_the_rest_hash_to_their_contents_sorted_by_path(tmp_path):
    listing = _listing(tmp_path)
    progress = []
    with hashing.Hasher(tmp_path, listing, ()) as hasher:
        for item in ("/srv/b.bin", "/srv/link", "/srv", "/srv/b.bin"):  # reported twice: once
            hasher.restored(item)
        assert hasher.hashed_early == 1
        files = hasher.results(lambda done, total: progress.append((done, total)))
    assert hasher.differences() == []
    assert files == [
        {"path": "/srv/a.bin", "size": 3_000_001, "sha256": _sha(b"a" * 3_000_001)},
        {"path": "/srv/b.bin", "size": 2, "sha256": _sha(b"bb")},
        {"path": "/srv/empty", "size": 0, "sha256": _sha(b"")},
    ]
    assert progress == [(3_000_001, 3_000_003), (3_000_003, 3_000_003), (3_000_003, 3_000_003)]


def test_a_file_read_early_at_another_size_is_read_again_after_restic(tmp_path):
    listing = _listing(tmp_path)
    with hashing.Hasher(tmp_path, listing, ()) as hasher:
        (tmp_path / "srv" / "b.bin").write_bytes(b"b")  # not yet what the listing says
        hasher.restored("/srv/b.bin")
        assert hasher._early["/srv/b.bin"].result()[1] == 1
        (tmp_path / "srv" / "b.bin").write_bytes(b"bb")
        files = hasher.results(lambda done, total: None)
    assert files[1] == {"path": "/srv/b.bin", "size": 2, "sha256": _sha(b"bb")}


def test_a_file_not_readable_as_listed_after_restic_fails(tmp_path):
    listing = _listing(tmp_path)
    (tmp_path / "srv" / "b.bin").write_bytes(b"b")
    with (
        hashing.Hasher(tmp_path, listing, ()) as hasher,
        pytest.raises(hashing.HashingFailed, match="/srv/b.bin: 2 bytes listed, 1 read"),
    ):
        hasher.results(lambda done, total: None)


def test_a_reported_file_that_is_not_there_yet_is_read_after_restic(tmp_path):
    listing = _listing(tmp_path)
    (tmp_path / "srv" / "b.bin").unlink()
    with hashing.Hasher(tmp_path, listing, ()) as hasher:
        hasher.restored("/srv/b.bin")
        with pytest.raises(FileNotFoundError):
            hasher._early["/srv/b.bin"].result()
        (tmp_path / "srv" / "b.bin").write_bytes(b"bb")
        assert hasher.results(lambda done, total: None)[1]["sha256"] == _sha(b"bb")


def test_reported_paths_outside_the_listing_are_differences_directories_above_a_path_are_not(
    tmp_path,
):
    listing = _listing(tmp_path)[1:2]  # only /srv/a.bin requested
    with hashing.Hasher(tmp_path, listing, ("/srv/a.bin",)) as hasher:
        for item in ("/srv", "/srv/a.bin", "/srv/b.bin", "/etc/passwd"):
            hasher.restored(item)
        for index in range(hashing.MAX_REPORTED_UNEXPECTED + 5):
            hasher.restored(f"/more/{index}")
        differences = hasher.differences()
    assert differences[:2] == [
        "/srv/b.bin: restic reports it restored, not listed",
        "/etc/passwd: restic reports it restored, not listed",
    ]
    assert len(differences) == hashing.MAX_REPORTED_UNEXPECTED + 1
    assert differences[-1] == "... and 7 more reported paths not in the listing"


def test_a_symlink_in_place_of_a_file_is_not_followed(tmp_path):
    (tmp_path / "outside").write_bytes(b"secret")
    (tmp_path / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(OSError):
        hashing.digest_of(tmp_path / "link")


def test_a_read_stops_when_the_restore_stops(tmp_path):
    stop = hashing.threading.Event()
    (tmp_path / "big").write_bytes(b"x" * (3 * hashing.CHUNK))
    stop.set()
    with pytest.raises(hashing.Stopped):
        hashing.digest_of(tmp_path / "big", stop)


@pytest.mark.parametrize(
    ("message", "item"),
    [
        ({"message_type": "verbose_status", "action": "restored", "item": "/a/b"}, "/a/b"),
        ({"message_type": "verbose_status", "action": "updated", "item": "/a/b"}, None),
        ({"message_type": "verbose_status", "action": "restored", "item": 7}, None),
        ({"message_type": "verbose_status", "action": "restored", "item": ""}, None),
        ({"message_type": "status", "action": "restored", "item": "/a/b"}, None),
    ],
)
def test_restored_item_takes_only_restored_verbose_status_lines(message, item):
    assert restored_item(message) == item
