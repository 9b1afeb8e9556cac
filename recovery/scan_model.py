"""Values of a media scan: byte runs, partitions, files found on file systems, carved files.

Pure values that cross from the file-system walk and the carver to the writer and the manifest.
Offsets are bytes from the start of the image.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable

ALLOCATED = "allocated"
DELETED = "deleted"
CARVED = "carved"
ORIGINS = (ALLOCATED, DELETED, CARVED)


@dataclasses.dataclass(frozen=True, order=True)
class ByteRun:
    """``length`` bytes of the image from ``offset``."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclasses.dataclass(frozen=True)
class Partition:
    """A volume the scan looked at: a partition, or the whole image when there is no table."""

    index: int
    offset: int
    length: int
    description: str
    table: str  # "mbr", "gpt", other TSK volume system names, or "none"
    filesystem: str | None = None  # what The Sleuth Kit found there, None when none

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class FoundFile:
    """A regular file a file system holds (allocated) or remembers (deleted)."""

    partition: int
    inode: int
    path: str  # as the file system names it, "/" separated, starting with "/"
    size: int
    allocated: bool
    times: dict  # mtime/atime/ctime/crtime: ISO-8601 UTC, or absent
    runs: tuple[ByteRun, ...]
    resident: bool = False  # content kept in the metadata (NTFS): no run of its own

    @property
    def origin(self) -> str:
        return ALLOCATED if self.allocated else DELETED


@dataclasses.dataclass(frozen=True)
class ManifestEntry:
    """One recovered file as the manifest lists it."""

    path: str  # relative to the output folder
    size: int
    sha256: str
    origin: str
    original_path: str | None
    times: dict
    damaged_bytes: int
    partition: int | None
    runs: tuple[ByteRun, ...]

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "origin": self.origin,
            "original_path": self.original_path,
            "times": dict(self.times),
            "damaged_bytes": self.damaged_bytes,
            "damaged": self.damaged_bytes > 0,
            "partition": self.partition,
            "byte_runs": [[run.offset, run.length] for run in self.runs],
        }


def merge_runs(runs: Iterable[ByteRun]) -> tuple[ByteRun, ...]:
    """Given byte runs in any order, return them sorted with overlapping or touching runs
    joined."""
    merged: list[ByteRun] = []
    for run in sorted(run for run in runs if run.length > 0):
        if merged and run.offset <= merged[-1].end:
            last = merged.pop()
            run = ByteRun(last.offset, max(last.end, run.end) - last.offset)
        merged.append(run)
    return tuple(merged)


def _end(run: ByteRun) -> int:
    return run.end


def overlap(first: tuple[ByteRun, ...], second: tuple[ByteRun, ...]) -> int:
    """Given two merged, sorted run lists, return how many bytes they share."""
    shared, index = 0, 0
    for run in first:
        # the first run of ``second`` ending past this one's start: a binary search (a carved
        # file's few runs against every text run of the image, hundreds of times a scan)
        index = bisect.bisect_right(second, run.offset, lo=index, key=_end)
        probe = index
        while probe < len(second) and second[probe].offset < run.end:
            shared += min(run.end, second[probe].end) - max(run.offset, second[probe].offset)
            probe += 1
    return shared


def complement(runs: tuple[ByteRun, ...], size: int) -> tuple[ByteRun, ...]:
    """Given merged, sorted runs and the image size, return the runs of the image they miss."""
    gaps, position = [], 0
    for run in runs:
        if run.offset > position:
            gaps.append(ByteRun(position, min(run.offset, size) - position))
        position = max(position, run.end)
    if position < size:
        gaps.append(ByteRun(position, size - position))
    return tuple(gap for gap in gaps if gap.length > 0)


def cut_runs(runs: tuple[ByteRun, ...], length: int) -> tuple[ByteRun, ...]:
    """Given a file's runs in file order, return the runs holding its first ``length`` bytes."""
    kept, remaining = [], length
    for run in runs:
        if remaining <= 0:
            break
        kept.append(ByteRun(run.offset, min(run.length, remaining)))
        remaining -= run.length
    return tuple(kept)
