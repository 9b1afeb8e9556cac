"""Carving what the file systems do not account for, with PhotoRec, and cutting to true length.

The areas no recovered file covers (unallocated space, unknown areas, the whole image when no
file system is found) are copied into a compact work copy (``work_copy``: long zero stretches
left out); PhotoRec carves it in batch mode and the runs of its report are mapped back to the
image. Text files, which PhotoRec finds only by known headers, are found by ``text_carver`` on
the same copy while PhotoRec runs. Each carved file is cut where its format says it ends
(``carve_trim``); one holding only zeros is dropped (the caller drops duplicates).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import pathlib
import shutil
import subprocess
import threading
from collections.abc import Callable

from recovery import carve_trim, photorec, text_carver, work_copy
from recovery.scan_model import ByteRun, cut_runs, merge_runs, overlap

logger = logging.getLogger(__name__)

COPY_CHUNK = 4 << 20
MAX_TRIM_READ = 256 << 20
# Carved pieces of file-system structures (a FAT directory cluster), not customer files.
STRUCTURE_EXTENSIONS = frozenset({"fat"})


@dataclasses.dataclass(frozen=True)
class Carved:
    """A carved file cut to its true length: its content path, name, length and runs."""

    source: pathlib.Path  # PhotoRec's output file, or the work copy for a text file
    name: str
    size: int
    sha256: str
    runs: tuple[ByteRun, ...]
    trimmed: bool
    source_offset: int = 0  # read ``size`` bytes of ``source`` from here
    own_source: bool = False  # ``source`` is this file's alone (PhotoRec's output file)
    placed: str | None = None  # written to the output already, at this path (a text file)


def _measure(path: pathlib.Path, extension: str, size: int) -> tuple[int, str, bool] | None:
    """Return the true length, its SHA-256 and whether the file was cut; None when it holds
    only zeros. One read of the file, but for files past MAX_TRIM_READ (read in chunks)."""
    with open(path, "rb") as stream:
        head = stream.read(min(size, MAX_TRIM_READ))
    if len(head) != size:
        return None if _all_zeros(path) else (size, _sha256(path), False)
    if head.count(0) == size:
        return None
    length = carve_trim.true_length(extension, head)
    if length is not None and length < size:
        return length, hashlib.sha256(memoryview(head)[:length]).hexdigest(), True
    return size, hashlib.sha256(head).hexdigest(), False


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(COPY_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _all_zeros(path: pathlib.Path) -> bool:
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(COPY_CHUNK), b""):
            if chunk.count(0) != len(chunk):
                return False
    return True


# Given a text file's name and content, write it to the output; return its path there and
# its SHA-256 (raise OSError when it cannot)
Place = Callable[[str, bytes], tuple[str, str]]


class _Stopped(Exception):
    """The text search was told to stop."""


class CarveRun:
    """Carving started in the background: PhotoRec works on the compact copy (in a thread that
    only waits for it) and the text files are searched for in another thread, while the caller
    recovers the file-system files (waiting on TSK's worker, which leaves the GIL free);
    ``results`` gathers both.

    Given a private, empty work folder, the image and the areas to carve, and where text files
    go as they are found (``place``; else they are copied out with the rest). The caller copies
    the carved files out, then removes ``work`` (and the placed text files it does not keep);
    ``stop`` ends PhotoRec early.
    """

    def __init__(
        self,
        work: pathlib.Path,
        image: pathlib.Path,
        areas: tuple[ByteRun, ...],
        *,
        binary: str,
        timeout: float,
        place: Place | None = None,
    ) -> None:
        self.work, self.image, self.areas = work, image, areas
        self.placed: list[str] = []  # text files written to the output so far
        self._place_text = place
        self._process: subprocess.Popen | None = None
        self._error: BaseException | None = None
        # Also when no file system accounts for anything (a reformatted medium): PhotoRec
        # then reads the data, not a medium's worth of zeros.
        self._copy = work / "unaccounted.img"
        self._slots = work_copy.write(image, self._copy, areas)
        argv = photorec.carve_argv(str(self._copy), str(work / "carved"), binary=binary)
        self._thread = threading.Thread(target=self._run, args=(argv, timeout), daemon=True)
        if self._slots:  # only zeros: nothing to carve
            self._thread.start()
        self._texts: list[Carved] = []
        self._stopping = threading.Event()
        self._text_thread = threading.Thread(target=self._find_texts, daemon=True)
        self._text_thread.start()

    def _run(self, argv: tuple[str, ...], timeout: float) -> None:
        try:
            photorec.run(argv, cwd=str(self.work), timeout=timeout, on_start=self._started)
        except BaseException as error:  # handed to the caller's thread by results()
            self._error = error

    def _find_texts(self) -> None:
        copy_size = len(self._slots) * work_copy.BLOCK
        try:
            self._texts = _text_files(
                self._copy, self._slots, (ByteRun(0, copy_size),), self._stopping, self._place
            )
        except _Stopped:
            return
        except BaseException as error:  # handed to the caller's thread by results()
            self._error = self._error or error

    def _place(self, name: str, content: bytes) -> tuple[str, str] | None:
        """Write a text file to the output while PhotoRec runs (after it, the scan would have
        to copy it); return its path there and its SHA-256, None when it cannot."""
        if self._place_text is None:
            return None
        try:
            placed = self._place_text(name, content)
        except OSError as error:
            logger.debug("text file %s not written ahead: %s", name, error)
            return None
        self.placed.append(placed[0])
        return placed

    def _started(self, process: subprocess.Popen) -> None:
        self._process = process

    def stop(self) -> None:
        self._stopping.set()
        if self._process is not None:
            photorec.stop(self._process)
        for thread in (self._thread, self._text_thread):
            if thread.is_alive():
                thread.join()

    def results(self) -> list[Carved]:
        """Return the carved files; raise PhotorecError or ReportError when carving failed."""
        self._text_thread.join()
        texts = self._texts
        if self._slots:
            self._thread.join()
        if self._error is not None:
            raise self._error
        report = self.work / "carved.1" / "report.xml"
        carved: list[Carved] = []
        if report.is_file():
            with open(report, "rb") as stream:
                objects = photorec.parse_report(stream)
            folders = {path.name: path for path in self.work.glob("carved.*") if path.is_dir()}
            text_runs = merge_runs(run for item in texts for run in item.runs)
            for found in objects:
                if not _starts_in(found, text_runs, self._slots):
                    carved.extend(_one(found, folders, self._slots))
        return _prefer_own_text(carved, texts)


def _text_files(
    source: pathlib.Path,
    slots: tuple[int, ...] | None,
    areas: tuple[ByteRun, ...],
    stopping: threading.Event,
    place: Place | None = None,
) -> list[Carved]:
    """Text files (text_carver) in the areas of the work copy (or of the image itself when
    ``slots`` is None), with their runs on the image, each written to the output by ``place``
    when given; empty once ``stopping`` is set."""
    found = []
    with open(source, "rb") as stream:

        def read(offset: int, length: int) -> bytes:
            if stopping.is_set():
                raise _Stopped
            stream.seek(offset)
            return stream.read(length)

        for area in areas:
            for run in text_carver.scan_area(read, area):
                content = read(run.offset, run.length)
                runs = work_copy.to_image((run,), slots)
                name = f"{runs[0].offset:012x}.txt"
                placed = place(name, content) if place is not None else None
                if placed is not None:
                    path, digest = placed
                else:
                    path, digest = None, hashlib.sha256(content).hexdigest()
                found.append(
                    Carved(source, name, run.length, digest, runs, True, run.offset, placed=path)
                )
    return found


def _starts_in(found: photorec.CarvedObject, text_runs, slots: tuple[int, ...] | None) -> bool:
    """Whether PhotoRec's file is a text file whose first byte lies in a text file found here:
    ``_prefer_own_text`` drops it whatever its true length, so it is not even read (on a
    reformatted medium that is most of PhotoRec's files)."""
    extension = found.filename.rpartition(".")[2].lower() if "." in found.filename else ""
    if extension not in carve_trim.TEXT_EXTENSIONS or not found.runs:
        return False
    first = work_copy.to_image((ByteRun(found.runs[0].offset, 1),), slots)
    return bool(first) and overlap(first, text_runs) > 0


def _prefer_own_text(carved: list[Carved], texts: list[Carved]) -> list[Carved]:
    """PhotoRec's text files cut at a block end lose to the text file found at the same place;
    a text run inside a file PhotoRec recognized by its format is part of that file."""
    text_runs = merge_runs(run for item in texts for run in item.runs)
    kept, formatted = [], []
    for item in carved:
        extension = item.name.rpartition(".")[2].lower()
        is_text = extension in carve_trim.TEXT_EXTENSIONS
        if is_text and overlap(merge_runs(item.runs), text_runs):
            continue
        kept.append(item)
        if not is_text:
            formatted.extend(item.runs)
    formatted_runs = merge_runs(formatted)
    kept += [item for item in texts if not overlap(merge_runs(item.runs), formatted_runs)]
    return kept


def _one(found: photorec.CarvedObject, folders: dict, slots: tuple[int, ...] | None):
    name = pathlib.PurePosixPath(found.filename).name
    extension = name.rpartition(".")[2] if "." in name else ""
    if extension in STRUCTURE_EXTENSIONS:
        return
    source = next((folder / name for folder in folders.values() if (folder / name).is_file()), None)
    if source is None or source.is_symlink():  # reported, then rejected by its own check
        logger.debug("carved file %r named in PhotoRec's report is missing", name)
        return
    size = source.stat().st_size
    measured = _measure(source, extension, size) if size else None
    if measured is None:  # empty, or only zeros
        return
    length, digest, trimmed = measured
    runs = work_copy.to_image(cut_runs(found.runs, length), slots)
    yield Carved(source, name, length, digest, runs, trimmed, own_source=True)


def remove_work(work: pathlib.Path) -> None:
    """Remove the carving work folder (it never follows symlinks)."""
    shutil.rmtree(work, ignore_errors=True)
