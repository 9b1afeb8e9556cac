"""The scan manifest is read only as recorded, bounded, and every entry checked."""

from __future__ import annotations

import hashlib
import json

import hypothesis
import hypothesis.strategies as st
import pytest

from recovery import recovered_files
from recovery.custody import CustodyEvent

GOOD = {"path": "deleted/a.JPG", "size": 10, "sha256": "a" * 64, "origin": "deleted"}


def _scan_event(folder, data: bytes) -> CustodyEvent:
    details = {"output": str(folder), "manifest_sha256": hashlib.sha256(data).hexdigest()}
    return CustodyEvent(3, "J-20260101-001", "scan.finished", "a", "h", "2026-01-01", details, "")


def _manifest(folder, document) -> bytes:
    data = json.dumps(document).encode()
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_bytes(data)
    return data


def test_no_scan_says_so():
    results = recovered_files.load(None)
    assert results.state == "none" and results.message.startswith("no scan yet")


def test_manifest_as_recorded_is_read(tmp_path):
    data = _manifest(tmp_path / "out", {"files": [GOOD, {**GOOD, "damaged_bytes": 4}]})
    results = recovered_files.load(_scan_event(tmp_path / "out", data))
    assert results.state == "ok" and len(results.files) == 2
    assert results.files[0].kind == "picture" and len(results.damaged) == 1


def test_changed_manifest_is_not_shown(tmp_path):
    data = _manifest(tmp_path / "out", [GOOD])
    (tmp_path / "out" / "manifest.json").write_bytes(data.replace(b"a.JPG", b"b.JPG"))
    results = recovered_files.load(_scan_event(tmp_path / "out", data))
    assert results.state == "changed" and results.files == ()
    assert results.message.startswith("scan manifest changed")


def test_deleted_manifest_is_missing(tmp_path):
    results = recovered_files.load(_scan_event(tmp_path / "gone", b"[]"))
    assert results.state == "missing"


def test_manifest_behind_a_symlink_is_not_read(tmp_path):
    data = _manifest(tmp_path / "real", [GOOD])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "manifest.json").symlink_to(tmp_path / "real" / "manifest.json")
    assert recovered_files.load(_scan_event(tmp_path / "out", data)).state == "unreadable"


@pytest.mark.parametrize(
    "entry",
    [
        {**GOOD, "origin": "stolen"},
        {**GOOD, "size": -1},
        {**GOOD, "size": True},
        {**GOOD, "sha256": "Z" * 64},
        {**GOOD, "damaged_bytes": "many"},
        {key: value for key, value in GOOD.items() if key != "path"},
        "a string",
    ],
)
def test_malformed_entries_are_counted_and_left_out(entry):
    files, _volumes, skipped = recovered_files.parse(json.dumps([GOOD, entry]).encode())
    assert len(files) == 1 and skipped == 1


@pytest.mark.parametrize("data", [b"", b"{", b"42", b'{"files": 3}', b"[" * 100000])
def test_not_a_manifest_is_a_value_error(data):
    with pytest.raises(ValueError):
        recovered_files.parse(data)


def test_by_kind_counts_origins_and_damage():
    files, _, _ = recovered_files.parse(
        json.dumps(
            [GOOD, {**GOOD, "origin": "carved", "damaged_bytes": 1}, {**GOOD, "path": "x.pdf"}]
        ).encode()
    )
    assert recovered_files.by_kind(files) == [
        ("picture", {"allocated": 0, "deleted": 1, "carved": 1}, 1, 20),
        ("document", {"allocated": 0, "deleted": 1, "carved": 0}, 0, 10),
    ]


@pytest.mark.parametrize("volumes", [5, "FAT", {"a": 1}, [1, {"file_system": "NTFS"}]])
def test_odd_volume_lists_keep_only_tables(volumes):
    _files, found, _ = recovered_files.parse(json.dumps({"files": [], "volumes": volumes}).encode())
    assert all(isinstance(volume, dict) for volume in found)


_KEYS = st.sampled_from(["files", "volumes", "partitions", "path", "size", "sha256", "origin"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_KEYS | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@hypothesis.given(st.one_of(st.binary(max_size=200), _JSON.map(lambda v: json.dumps(v).encode())))
def test_fuzz_parse_either_parses_or_says_value_error(data):
    try:
        files, volumes, skipped = recovered_files.parse(data)
    except ValueError:
        return
    assert skipped >= 0 and all(item.origin in recovered_files.ORIGINS for item in files)
    assert all(isinstance(volume, dict) for volume in volumes)


def test_scan_finished_shape_of_media_scan_is_read(tmp_path):
    document = {
        "scan": {"partitions": [{"index": 0, "offset": 0, "table": "none", "filesystem": "FAT32"}]},
        "files": [{**GOOD, "times": {"mtime": "2020-01-01T00:00:00"}, "byte_runs": [[0, 10]]}],
    }
    data = _manifest(tmp_path / "out", document)
    details = {"output": str(tmp_path / "out"), "manifest_sha256": hashlib.sha256(data).hexdigest()}
    event = CustodyEvent(4, "J-20260101-001", "scan.finished", "a", "h", "2026", details, "")
    results = recovered_files.load(event)
    assert results.state == "ok" and results.volumes[0]["filesystem"] == "FAT32"
    assert results.files[0].times == (("mtime", "2020-01-01T00:00:00"),)
