"""Carving what the file systems do not account for, with PhotoRec, and cutting to true length.

The areas no recovered file covers (unallocated space, unknown areas, the whole image when no
file system is found) are copied at their own offsets into a sparse work copy of the image;
everything else reads as zeros there. PhotoRec carves that copy in batch mode, so the byte runs
its report gives are offsets on the real image. Each carved file is cut where its format says
it ends (``carve_trim``); one identical to a file-system file, or holding only zeros, is
dropped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pathlib
import shutil
from collections.abc import Callable, Iterator

from recovery import carve_trim, photorec
from recovery.scan_model import ByteRun, cut_runs

logger = logging.getLogger(__name__)

COPY_CHUNK = 4 << 20
MAX_TRIM_READ = 256 << 20
# Carved pieces of file-system structures (a FAT directory cluster), not customer files.
STRUCTURE_EXTENSIONS = frozenset({"fat"})


@dataclasses.dataclass(frozen=True)
class Carved:
    """A carved file cut to its true length: its content path, name, length and runs."""

    source: pathlib.Path  # PhotoRec's output file (read the first ``size`` bytes)
    name: str
    size: int
    sha256: str
    runs: tuple[ByteRun, ...]
    trimmed: bool


def write_work_copy(image: pathlib.Path, copy: pathlib.Path, areas: tuple[ByteRun, ...]) -> int:
    """Given the image and the areas to carve, write a sparse copy holding only those areas;
    return the bytes copied. The copy is created 0600, never through a symlink."""
    size = image.stat().st_size
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    copied = 0
    with open(image, "rb") as source:
        descriptor = os.open(copy, flags, 0o600)
        try:
            os.ftruncate(descriptor, size)
            for area in areas:
                source.seek(area.offset)
                position = area.offset
                while position < area.end:
                    chunk = source.read(min(COPY_CHUNK, area.end - position))
                    if not chunk:
                        break
                    if chunk.count(0) != len(chunk):
                        os.pwrite(descriptor, chunk, position)
                    position += len(chunk)
                    copied += len(chunk)
        finally:
            os.close(descriptor)
    return copied


def _measure(path: pathlib.Path, extension: str, size: int) -> tuple[int, str, bool]:
    """Return the true length, its SHA-256 and whether the file was cut."""
    with open(path, "rb") as stream:
        head = stream.read(min(size, MAX_TRIM_READ))
    length = carve_trim.true_length(extension, head) if len(head) == size else None
    if length is not None and length < size:
        return length, hashlib.sha256(head[:length]).hexdigest(), True
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(COPY_CHUNK), b""):
            digest.update(chunk)
    return size, digest.hexdigest(), False


def _all_zeros(path: pathlib.Path, size: int) -> bool:
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(COPY_CHUNK), b""):
            if chunk.count(0) != len(chunk):
                return False
    return True


def carve(
    work: pathlib.Path,
    image: pathlib.Path,
    areas: tuple[ByteRun, ...],
    *,
    binary: str,
    timeout: float,
    warn: Callable[[str], None],
) -> Iterator[Carved]:
    """Given a private, empty work folder, the image and the areas to carve, yield the carved
    files; the caller copies them out before the next one and removes ``work`` at the end.

    Raise PhotorecError when PhotoRec fails, ReportError when its report is unreadable.
    """
    copy = work / "unaccounted.img"
    write_work_copy(image, copy, areas)
    prefix = work / "carved"
    photorec.run(photorec.carve_argv(str(copy), str(prefix), binary=binary), cwd=str(work),
                 timeout=timeout)
    copy.unlink()
    report = pathlib.Path(f"{prefix}.1") / "report.xml"
    if not report.is_file():
        return
    with open(report, "rb") as stream:
        objects = photorec.parse_report(stream)
    folders = {path.name: path for path in work.glob("carved.*") if path.is_dir()}
    for found in objects:
        yield from _one(found, folders, warn)


def _one(found: photorec.CarvedObject, folders: dict, warn: Callable[[str], None]):
    name = pathlib.PurePosixPath(found.filename).name
    extension = name.rpartition(".")[2] if "." in name else ""
    if extension in STRUCTURE_EXTENSIONS:
        return
    source = next(
        (folder / name for folder in folders.values() if (folder / name).is_file()), None
    )
    if source is None or source.is_symlink():  # reported, then rejected by its own check
        logger.debug("carved file %r named in PhotoRec's report is missing", name)
        return
    size = source.stat().st_size
    if size == 0 or _all_zeros(source, size):
        return
    length, digest, trimmed = _measure(source, extension, size)
    yield Carved(source, name, length, digest, cut_runs(found.runs, length), trimmed)


def remove_work(work: pathlib.Path) -> None:
    """Remove the carving work folder (it never follows symlinks)."""
    shutil.rmtree(work, ignore_errors=True)
