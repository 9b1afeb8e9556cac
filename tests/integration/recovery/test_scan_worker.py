"""The Sleuth Kit's worker process: a crash or a hang of libtsk is a warning, not the end.

Real parts: a FAT32 image written by mkfs.fat/mtools (tests/fixtures/make_media.py), The Sleuth
Kit in its forked worker, PhotoRec. No image is known that makes libtsk crash or loop on
demand, so the worker's test switch ``BACKUPCTL_TEST_TSK_FAULT`` (recovery/tsk_worker.py:
``crash:OP`` sends the worker SIGSEGV, ``hang:OP`` blocks it, at request OP) stands in for one;
only these tests set it. Everything around it (the pipe, the deadline, the kill, the restart,
the rest of the scan) is the real thing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from recovery import photorec, scan, tsk_worker
from tests.fixtures import make_media
from tests.fixtures.requirements import skip_or_fail


@pytest.fixture(scope="module")
def fat32(tmp_path_factory):
    if shutil.which("mcopy") is None or shutil.which("photorec") is None:
        skip_or_fail("mtools or testdisk missing (scripts/setup.sh --test)")
    image, originals = make_media.build("fat32", tmp_path_factory.mktemp("worker"), files=9)
    return image, originals


def test_without_a_fault_the_worker_lists_and_reads_every_file(fat32, tmp_path):
    image, originals = fat32
    result = scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions(carve=False))
    assert {entry.sha256 for entry in result.entries} >= {item["sha256"] for item in originals}
    assert result.warnings == ()


@pytest.fixture(scope="module")
def fat32_orphans(tmp_path_factory):
    if shutil.which("mcopy") is None or shutil.which("photorec") is None:
        skip_or_fail("mtools or testdisk missing (scripts/setup.sh --test)")
    return make_media.build_fat32_orphans(tmp_path_factory.mktemp("orphans"), files=4)


def test_files_only_the_orphan_search_finds_are_recovered(fat32_orphans, tmp_path):
    image, originals = fat32_orphans
    result = scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions(carve=False))
    orphans = [entry for entry in result.entries if "$OrphanFiles" in (entry.original_path or "")]
    assert {entry.sha256 for entry in orphans} == {item["sha256"] for item in originals}
    assert {entry.origin for entry in orphans} == {"deleted"}


def test_a_crash_while_listing_orphans_keeps_the_named_files(
    fat32, fat32_orphans, tmp_path, monkeypatch
):
    image, _ = fat32_orphans  # its free clusters hold directory entries: the search runs
    named, originals = fat32
    monkeypatch.setenv(tsk_worker.FAULT_VARIABLE, "crash:orphans")
    result = scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions())
    assert any("crashed (SIGSEGV) listing its orphan files" in text for text in result.warnings)
    assert any(entry.original_path == "/NEW.TXT" for entry in result.entries)  # the named file
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert len(manifest["files"]) == len(result.entries) and manifest["scan"]["warnings"]
    # where no free cluster holds a directory entry, the orphan search is not run at all: the
    # crash at that step never comes, and the named files (deleted ones too) are all there
    result = scan.scan(named, None, tmp_path / "named", options=scan.ScanOptions())
    assert result.warnings == ()
    assert {entry.sha256 for entry in result.entries} >= {item["sha256"] for item in originals}


def test_a_hang_while_listing_is_cut_at_the_time_bound_and_the_image_is_carved(
    fat32, tmp_path, monkeypatch
):
    image, originals = fat32
    monkeypatch.setenv(tsk_worker.FAULT_VARIABLE, "hang:walk")
    started = time.monotonic()
    result = scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions(fs_timeout=1))
    assert time.monotonic() - started < 30
    assert any("did not answer within 1 s listing its files" in text for text in result.warnings)
    assert result.partitions[0].filesystem == "fat32"
    # nothing listed: the whole volume is carved, so files come back all the same
    assert result.counts()["carved"] > 0 and result.counts()["allocated"] == 0


def test_crashes_while_reading_make_files_unreadable_then_skip_the_file_system(
    fat32, tmp_path, monkeypatch
):
    image, originals = fat32
    monkeypatch.setenv(tsk_worker.FAULT_VARIABLE, "crash:read")
    result = scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions(carve=False))
    crashed = [text for text in result.warnings if "The Sleuth Kit crashed (SIGSEGV)" in text]
    assert len(crashed) == 2  # two files, then the file system is given up
    assert any("the rest of this file system skipped" in text for text in result.warnings)
    assert result.entries == () and result.dropped["unreadable"] >= len(originals) - 3


def test_a_missing_photorec_fails_the_scan_before_anything_is_written(fat32, tmp_path):
    image, _ = fat32
    options = scan.ScanOptions(photorec_binary=str(tmp_path / "no-photorec"))
    with pytest.raises(photorec.PhotorecError, match="cannot run"):
        scan.scan(image, None, tmp_path / "out", options=options)
    assert not (tmp_path / "out").exists()


def test_a_carved_text_identical_to_a_named_file_is_dropped_and_leaves_no_carved_folder(tmp_path):
    # the text files are written to carved/ while PhotoRec runs: one dropped after it (here a
    # copy of a file the file system names) goes again, and so does carved/ when it is empty
    if shutil.which("mcopy") is None or shutil.which("photorec") is None:
        skip_or_fail("mtools or testdisk missing (scripts/setup.sh --test)")
    text = b"".join(b"line %d of a text file the customer keeps twice\n" % n for n in range(60))
    source = tmp_path / "NOTES.TXT"
    source.write_bytes(text)
    image = tmp_path / "fat.img"
    with open(image, "wb") as stream:
        stream.truncate(40 << 20)
    subprocess.run(("mkfs.fat", "-F", "32", "-s", "1", str(image)), check=True, capture_output=True)
    subprocess.run(
        ("mcopy", "-i", str(image), str(source), "::/NOTES.TXT"),
        check=True,
        capture_output=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    )
    with open(image, "r+b") as stream:  # the same text in free space, named by nothing
        stream.seek(30 << 20)
        stream.write(text)
    result = scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions())
    assert [entry.original_path for entry in result.entries] == ["/NOTES.TXT"]
    assert result.dropped["carved_duplicates"] == 1
    assert not (tmp_path / "out" / "carved").exists()
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "allocated",
        "manifest.csv",
        "manifest.json",
    ]
