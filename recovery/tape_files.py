"""What a .tap image holds, file by file, and the data of one tape file.

``summarize`` lists the tape files with their record sizes, hashes and detected formats (what
``tape files`` prints); ``resume_point`` finds where an interrupted ``tape image`` left off;
``write_file`` writes one tape file's data out, with each unreadable record replaced by zeros of
the file's usual record size (so a tar archive stays aligned after the hole) and says where.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from typing import BinaryIO

from recovery import errors, simh_tap, tape_stats


@dataclasses.dataclass(frozen=True)
class TapSummary:
    files: tuple[tape_stats.TapeFile, ...]
    ended: bool  # the image ends with an end-of-medium marker (a finished run)
    size: int

    def to_dict(self) -> dict:
        return {
            "files": [file.to_dict() for file in self.files],
            "ended": self.ended,
            "size": self.size,
        }


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    complete_files: tuple[tape_stats.TapeFile, ...]
    offset: int  # the byte offset right after the last filemark (0: start again)
    ended: bool


@dataclasses.dataclass(frozen=True)
class Filled:
    """A range of the written file that holds zeros for an unreadable record."""

    record_number: int
    offset: int
    length: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def open_image(path: os.PathLike) -> BinaryIO:
    """Open a .tap image for reading; raise InvalidRequest when it is missing or not a regular
    file (a device or FIFO would never end)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        raise errors.InvalidRequest(f"cannot open {path}: {error.strerror}") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise errors.InvalidRequest(f"{path} is not a regular file")
    return os.fdopen(descriptor, "rb")


def _walk(
    stream: BinaryIO, *, tolerate_tail: bool = False
) -> tuple[list[tape_stats.TapeFile], list[int], bool]:
    """Return the files, the offset after each filemark, and whether end of medium was seen.

    With ``tolerate_tail``, damage ends the walk (at the last filemark before it) instead of
    raising.
    """
    files, ends, offset = [], [], 0
    current = tape_stats.FileAccumulator(0)
    ended = False
    try:
        for entry in simh_tap.read(stream):
            offset += simh_tap.encoded_size(entry)
            if isinstance(entry, simh_tap.EndOfMedium):
                ended = True
            elif isinstance(entry, simh_tap.TapeMark):
                files.append(current.finish(complete=True))
                ends.append(offset)
                current = tape_stats.FileAccumulator(current.number + 1)
            elif entry.error:
                current.error_record()
            else:
                current.record(entry.data)
    except simh_tap.TapFormatError:
        if not tolerate_tail:
            raise
    if not current.empty:
        files.append(current.finish(complete=False))
    return files, ends, ended


def summarize(stream: BinaryIO) -> TapSummary:
    """Given a .tap stream, return its tape files; an empty file between the two final
    filemarks is not a tape file. Raise TapFormatError when the image is damaged."""
    files, ends, ended = _walk(stream)
    if files and files[-1].records == 0 and files[-1].complete:
        files = files[:-1]  # the second filemark of the end of data
    return TapSummary(tuple(files), ended, ends[-1] if ends else 0)


def resume_point(stream: BinaryIO) -> ResumePoint:
    """Given the .tap an interrupted run left, return its complete files and where they end.

    Reading stops at the first damage (a record cut short by the interruption, or anything
    else): the resume point is the last filemark before it, so everything from there on is
    read from the tape again and nothing damaged is kept.
    """
    files, ends, ended = _walk(stream, tolerate_tail=True)
    complete = tuple(file for file in files if file.complete)
    return ResumePoint(complete, ends[-1] if ends else 0, ended)


def write_file(
    stream: BinaryIO, number: int, out: BinaryIO, *, usual_size: int | None = None
) -> tuple[int, tuple[Filled, ...]]:
    """Given a .tap stream, write the data of tape file ``number`` to ``out``; an unreadable
    record becomes zeros up to ``usual_size`` (when not given, the file's most common record
    size, found with one more pass over the image).

    Return the bytes written and the ranges filled with zeros for unreadable records. Raise
    InvalidRequest when the image has no such file.
    """
    usual = _usual_size(stream, number) if usual_size is None else usual_size
    stream.seek(0)
    file, record, written, filled = 0, 0, 0, []
    for entry in simh_tap.read(stream):
        if isinstance(entry, simh_tap.EndOfMedium):
            break
        if isinstance(entry, simh_tap.TapeMark):
            if file == number:
                break
            file, record = file + 1, 0
            continue
        if file == number:
            data = entry.data
            if entry.error:
                data = data + b"\0" * max(usual - len(data), 0)
                filled.append(Filled(record, written, len(data)))
            out.write(data)
            written += len(data)
        record += 1
    return written, tuple(filled)


def _usual_size(stream: BinaryIO, number: int) -> int:
    summary = summarize(stream)
    if not 0 <= number < len(summary.files):
        raise errors.InvalidRequest(
            f"the image has {len(summary.files)} tape files (0 to {len(summary.files) - 1}),"
            f" not file {number}"
        )
    return summary.files[number].usual_size or 0
