"""TSK's orphan search in a second worker, while the first lists and recovers the named files.

Real parts: FAT32 images written by mkfs.fat/mtools (tests/fixtures/make_media.py) whose
deleted folder's files only the orphan search finds, The Sleuth Kit in its forked workers,
PhotoRec. The hang at the orphan search is the worker's test switch (recovery/tsk_worker.py:
no image makes libtsk loop on demand). The order the files are recovered in is steered by
replacing ``scan_files`` functions, to compare each way of merging with walk order.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from recovery import filesystems, scan, scan_files, tsk_client, tsk_process, tsk_worker, work_copy
from tests.fixtures import make_media
from tests.fixtures.requirements import skip_or_fail

MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


@pytest.fixture(scope="module")
def orphans_and_deeper(tmp_path_factory):
    """fat32-orphans.img plus a named file in a folder: walk order puts the orphan files
    between the root's file and that one."""
    if shutil.which("mcopy") is None or shutil.which("photorec") is None:
        skip_or_fail("mtools or testdisk missing (scripts/setup.sh --test)")
    image, originals = make_media.build_fat32_orphans(tmp_path_factory.mktemp("orph"), files=4)
    source = tmp_path_factory.mktemp("deeper") / "KEEP.TXT"
    source.write_bytes(b"kept in a folder, listed after the orphan files\n" * 40)
    for argv in (("mmd", "::/keep"), ("mcopy", str(source), "::/keep/KEEP.TXT")):
        command = (argv[0], "-i", str(image), *argv[1:])
        subprocess.run(command, check=True, capture_output=True, env=MTOOLS_ENV)
    return image, originals


@pytest.fixture
def workers(monkeypatch):
    """Record which worker (pid) answered each listing, and every worker started."""
    listings, started = [], []
    walk, child = tsk_client.TskClient.walk, tsk_process.Child.__init__

    def recording_walk(self, system, *, orphans):
        files = walk(self, system, orphans=orphans)
        listings.append((orphans, self._process.pid if self._process else None, len(files)))
        return files

    def recording_child(self, image):
        child(self, image)
        started.append(self.pid)

    monkeypatch.setattr(tsk_client.TskClient, "walk", recording_walk)
    monkeypatch.setattr(tsk_process.Child, "__init__", recording_child)
    return listings, started


def _assert_reaped(pids) -> None:
    for pid in pids:  # our own children: reaped means waitpid knows them no more
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _scan(image: pathlib.Path, out: pathlib.Path) -> tuple[scan.ScanResult, dict]:
    """Scan into ``out``; return the result and every file and folder written (then removed,
    so the next scan writes to the same folder name: the same summary)."""
    result = scan.scan(image, None, out, options=scan.ScanOptions())
    written = {
        str(path.relative_to(out)): path.read_bytes() if path.is_file() else "folder"
        for path in out.rglob("*")
    }
    shutil.rmtree(out)
    return result, written


def test_the_orphan_search_runs_in_its_own_worker_and_merges_as_walk_order(
    orphans_and_deeper, tmp_path, monkeypatch, workers
):
    image, originals = orphans_and_deeper
    listings, started = workers
    merged, merged_files = _scan(image, tmp_path / "out")
    # the named files were listed by one worker, the orphan files by another, both now gone
    (named_pid,) = {pid for orphans, pid, _ in listings if not orphans}
    (orphan_pid,) = {pid for orphans, pid, _ in listings if orphans}
    assert named_pid != orphan_pid and set(started) == {named_pid, orphan_pid}
    _assert_reaped(started)
    paths = [entry.original_path for entry in merged.entries if entry.origin != "carved"]
    orphans = [path for path in paths if path.startswith("/$OrphanFiles/")]
    assert len(orphans) == len(originals)  # all found by the search only
    assert paths == ["/NEW.TXT", *orphans, "/keep/KEEP.TXT"]  # walk order, not reading order

    # the same scan recovering in walk order one by one (nothing ahead), and recovering
    # everything again after the named files (the fallback): byte for byte the same output
    nothing_ahead = scan_files.Ahead((), (), (), 0)
    with monkeypatch.context() as patch:
        patch.setattr(scan_files, "recover_ahead", lambda *arguments: nothing_ahead)
        _, one_by_one = _scan(image, tmp_path / "out")
    assert one_by_one == merged_files
    with monkeypatch.context() as patch:
        patch.setattr(scan_files, "_commutes", lambda *arguments: False)
        again, redone = _scan(image, tmp_path / "out")
    assert redone == merged_files and again.entries == merged.entries
    manifest = json.loads(merged_files["manifest.json"])
    assert [item["original_path"] for item in manifest["files"]][: len(paths)] == paths


def test_crashes_while_reading_ahead_give_what_walk_order_gives(
    orphans_and_deeper, tmp_path, monkeypatch
):
    # two crashes give the file system up: in walk order the second is an orphan file's, so
    # /keep/KEEP.TXT is skipped; recovered ahead it was the second, so it all goes again
    image, _ = orphans_and_deeper
    monkeypatch.setenv(tsk_worker.FAULT_VARIABLE, "crash:read")
    merged, merged_files = _scan(image, tmp_path / "out")
    with monkeypatch.context() as patch:
        patch.setattr(
            scan_files, "recover_ahead", lambda *arguments: scan_files.Ahead((), (), (), 0)
        )
        one_by_one, one_by_one_files = _scan(image, tmp_path / "out")
    assert merged.warnings == one_by_one.warnings and merged.dropped == one_by_one.dropped
    assert merged_files == one_by_one_files
    failed = [text for text in merged.warnings if text.startswith("cannot read")]
    assert failed[0].startswith("cannot read allocated file '/NEW.TXT'")
    assert failed[1].startswith("cannot read deleted file '/$OrphanFiles/")
    assert not [entry for entry in merged.entries if entry.origin != "carved"]


@pytest.mark.parametrize("kind", ["fat32", "ext4"])
def test_where_the_search_reads_no_free_space_one_worker_does_all(kind, tmp_path, workers):
    # FAT32 whose free clusters hold no directory entry: no search; ext4: TSK's search looks
    # at the inode table, not the free space, and runs in the first worker after the listing
    if shutil.which("mcopy") is None or shutil.which("mkfs.ext4") is None:
        skip_or_fail("mtools or e2fsprogs missing (scripts/setup.sh --test)")
    listings, started = workers
    image, originals = make_media.build(kind, tmp_path, files=6)
    result = scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions(carve=False))
    assert {entry.sha256 for entry in result.entries} >= {item["sha256"] for item in originals}
    assert len(started) == 1 and {pid for _, pid, _ in listings} == set(started)
    searched = [orphans for orphans, _, _ in listings]
    assert searched == ([False] if kind == "fat32" else [False, True])
    _assert_reaped(started)


def test_holes_given_as_zeros_are_the_bytes_and_listings_of_the_image(orphans_and_deeper):
    image, _ = orphans_and_deeper
    with open(image, "rb") as stream:
        data = work_copy.data_blocks(stream.fileno(), image.stat().st_size)
    assert data and sum(run.length for run in data) * 2 <= image.stat().st_size  # sparse
    read, listed, partitions, systems = {}, {}, {}, {}
    for holes_unread in (False, True):
        opened = filesystems.open_image(str(image), print, holes_unread=holes_unread)
        read[holes_unread], partitions[holes_unread], systems[holes_unread] = opened
    assert isinstance(read[True], filesystems._HolesUnread)
    assert partitions[True] == partitions[False]
    for holes_unread, (system,) in systems.items():
        listed[holes_unread] = (
            list(filesystems.walk(system, print)),
            list(filesystems.walk_orphans(system, print)),
        )
    assert listed[True] == listed[False] and len(listed[True][1]) == 4
    size = image.stat().st_size
    edges = [edge for run in data for edge in (run.offset, run.end)]
    for offset in sorted({0, size - 100, *edges, *(edge - 700 for edge in edges if edge > 700)}):
        length = min(65536, size - offset)
        assert read[True].read(offset, length) == read[False].read(offset, length), offset


def test_a_hang_of_the_orphan_search_is_cut_at_the_bound_and_leaves_no_worker(
    orphans_and_deeper, tmp_path, monkeypatch, workers
):
    image, _ = orphans_and_deeper
    _, started = workers
    monkeypatch.setenv(tsk_worker.FAULT_VARIABLE, "hang:orphans")
    result = scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions(fs_timeout=1))
    assert list(result.warnings) == [
        "partition 0: The Sleuth Kit did not answer within 1 s listing its orphan files;"
        " 0 listed, the rest of this file system skipped"
    ]
    # the named files are all there, recovered while the search hung; the orphans' area carved
    paths = {entry.original_path for entry in result.entries}
    assert {"/NEW.TXT", "/keep/KEEP.TXT"} <= paths and result.counts()["carved"] > 0
    assert not any(path and path.startswith("/$OrphanFiles/") for path in paths)
    assert len(started) == 2
    _assert_reaped(started)
    assert not (tmp_path / "out" / ".carving").exists()


def test_an_interrupt_while_recovering_ahead_reaps_both_workers(
    orphans_and_deeper, tmp_path, workers
):
    image, _ = orphans_and_deeper
    _, started = workers

    def interrupt(phase: str, done: int, total: int) -> None:
        if phase == "recovering":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions(), on_progress=interrupt)
    assert len(started) == 2
    _assert_reaped(started)
    assert not (tmp_path / "out" / ".carving").exists()
