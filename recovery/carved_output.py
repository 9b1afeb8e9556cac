"""A scan's carved files into its output folder: start carving, then write what it found.

``start`` begins carving (``carving.CarveRun``) on what the file systems do not account for;
text files go into ``carved/`` as the text search finds them, while PhotoRec still runs.
``finish`` waits for carving and writes the rest: PhotoRec's files are linked (cut to their
true length), not copied; a carved file lying on a file found after carving began, or
identical to a file already written, is dropped (and a text file written ahead for it
removed). ``abandon`` stops carving when the scan fails. The work folder goes in every case.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import stat
from collections.abc import Callable

from recovery import carving, damage
from recovery.scan_model import CARVED, ByteRun, ManifestEntry, complement, merge_runs, overlap
from recovery.scan_output import OutputFolder

WORK_FOLDER = ".carving"


def start(
    output: OutputFolder,
    image: pathlib.Path,
    accounted: tuple[ByteRun, ...],
    *,
    binary: str,
    timeout: float,
    on_progress: Callable[[str, int, int], None],
) -> carving.CarveRun | None:
    """Start carving what ``accounted`` leaves of the image with PhotoRec ``binary`` (bounded
    by ``timeout`` seconds); None when nothing is left."""
    areas = complement(accounted, image.stat().st_size)
    if not areas:
        return None
    work = output.root / WORK_FOLDER
    work.mkdir(mode=0o700)
    on_progress("carving", 0, sum(area.length for area in areas))

    def place(name: str, content: bytes) -> tuple[str, str]:
        path, _, digest = output.write([CARVED], name, lambda sink: sink(content))
        return path, digest

    try:
        return carving.CarveRun(
            work,
            image,
            areas,
            binary=binary,
            timeout=timeout,
            place=place,
        )
    except BaseException:
        carving.remove_work(work)
        raise


def finish(
    output: OutputFolder,
    run: carving.CarveRun,
    unreadable: tuple[ByteRun, ...],
    known: set[str],
    dropped: dict,
    on_progress: Callable[[str, int, int], None],
    late: tuple[ByteRun, ...],
) -> list[ManifestEntry]:
    """Write the carved files not lying on ``late`` runs nor identical to ``known`` files
    (SHA-256, counted in ``dropped``); return their manifest entries. Raise PhotorecError or
    ReportError when carving failed."""
    entries = []
    try:
        for item in run.results():
            if late and overlap(merge_runs(item.runs), late):
                continue  # it lies on a file found after carving began
            if item.sha256 in known:
                dropped["carved_duplicates"] += 1
                continue
            known.add(item.sha256)
            entries.append(_write(output, item, unreadable))
            on_progress("carved", len(entries), 0)
    except BaseException:
        abandon(output, run)
        raise
    run.stop()
    kept = {entry.path for entry in entries}
    _remove_placed(output, run, kept)
    carving.remove_work(run.work)
    return entries


def abandon(output: OutputFolder, run: carving.CarveRun) -> None:
    """Stop carving, remove the text files written ahead and the work folder."""
    run.stop()
    _remove_placed(output, run, set())
    carving.remove_work(run.work)


def _remove_placed(output: OutputFolder, run: carving.CarveRun, kept: set[str]) -> None:
    removed = [path for path in run.placed if path not in kept]
    for path in removed:
        with contextlib.suppress(OSError):
            output.remove(path)
    if removed and not kept:  # no carved file kept: no carved/ folder, as without texts
        output.remove_folder_if_empty(CARVED)


def _write(output: OutputFolder, item: carving.Carved, unreadable) -> ManifestEntry:
    def entry(path: str, size: int, digest: str) -> ManifestEntry:
        damaged = damage.damaged_bytes(item.runs, unreadable)
        return ManifestEntry(path, size, digest, CARVED, None, {}, damaged, None, item.runs)

    if item.placed is not None:  # a text file written while PhotoRec ran
        return entry(item.placed, item.size, item.sha256)
    offset = item.runs[0].offset if item.runs else 0
    extension = item.name.rpartition(".")[2] if "." in item.name else "bin"
    name = f"{offset:012x}.{extension}"
    if _linkable(item):  # PhotoRec's file, cut to length: no copy, its SHA-256 is known
        with contextlib.suppress(OSError):
            return entry(
                output.link([CARVED], name, item.source, item.size), item.size, item.sha256
            )
    return entry(*output.write([CARVED], name, lambda sink: _copy(item, sink)))


def _copy(item: carving.Carved, sink: Callable[[bytes], None]) -> None:
    remaining = item.size
    with open(item.source, "rb") as stream:
        stream.seek(item.source_offset)
        while remaining > 0:
            chunk = stream.read(min(carving.COPY_CHUNK, remaining))
            if not chunk:
                break
            sink(chunk)
            remaining -= len(chunk)


def _linkable(item: carving.Carved) -> bool:
    """A carved file at the start of a root-only regular file of PhotoRec's with one name."""
    if not item.own_source or item.source_offset:
        return False
    try:
        info = os.lstat(item.source)
    except OSError:
        return False
    plain = stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    ours = info.st_nlink == 1 and info.st_uid == os.geteuid()
    return plain and ours and info.st_size >= item.size
