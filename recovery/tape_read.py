"""Read a tape, record by record, through its filemarks to the end of data, into a .tap writer.

The drive is rewound and put in variable block mode; each read returns one record (the buffer
grows while the drive answers ENOMEM). A read that returns nothing is a filemark; two in a row,
or an error with GMT_EOD in the status, end the data. A record that fails is read again up to
``retries`` times (backspacing over it when the drive moved past it), then written as an error
record and skipped, so the rest of the tape is still read. To resume, the caller gives the
number of complete files already in the image; the drive spaces forward over that many
filemarks (MTFSF) before reading.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable

from recovery import errors, simh_tap, st_driver, tape_stats
from recovery.st_driver import TapeDrive

logger = logging.getLogger(__name__)

END_TWO_FILEMARKS = "two filemarks"
END_OF_DATA = "end of data reported by the drive"
END_UNSKIPPABLE = "a failed record the drive could not space over"


class TapeReadError(errors.RecoveryError):
    """The drive cannot be read at all (no tape, offline, cannot rewind or position)."""


@dataclasses.dataclass(frozen=True)
class BadRecord:
    file_number: int
    record_number: int  # 0-based within its tape file
    attempts: int
    reason: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Progress:
    file_number: int
    records: int
    bytes: int
    bad_records: int
    buffer_size: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ReadResult:
    files: tuple[tape_stats.TapeFile, ...]  # the files read by this run
    bad_records: tuple[BadRecord, ...]
    end: str
    largest_buffer: int


def prepare(drive: TapeDrive, *, skip_files: int) -> st_driver.DriveStatus:
    """Rewind, set variable block mode, space over ``skip_files`` filemarks; return the status.

    Raise TapeReadError when there is no tape, or the drive cannot do one of these.
    """
    status = _status(drive)
    if status.has("door_open") or not status.has("online"):
        raise TapeReadError("the drive holds no tape, or is offline")
    steps = [(st_driver.MTREW, 1, "rewind"), (st_driver.MTSETBLK, 0, "set variable block mode")]
    if skip_files:
        steps.append((st_driver.MTFSF, skip_files, f"space forward over {skip_files} filemarks"))
    for operation, count, what in steps:
        try:
            drive.operation(operation, count)
        except OSError as error:
            raise TapeReadError(f"the drive cannot {what}: {os.strerror(error.errno)}") from None
    return _status(drive)


def _status(drive: TapeDrive) -> st_driver.DriveStatus:
    try:
        return drive.status()
    except OSError as error:
        raise TapeReadError(f"cannot read the drive status: {os.strerror(error.errno)}") from None


def _at_end_of_data(drive: TapeDrive) -> bool:
    try:
        return drive.status().has("eod")
    except OSError:
        return False


class _Reader:
    """The state of one reading run: the current file, counters, the writer."""

    def __init__(self, drive: TapeDrive, writer: simh_tap.Writer, first_file: int) -> None:
        self.drive, self.writer = drive, writer
        self.current = tape_stats.FileAccumulator(first_file)
        self.files: list[tape_stats.TapeFile] = []
        self.bad: list[BadRecord] = []
        self.buffer = st_driver.FIRST_BUFFER
        self.largest_buffer = self.buffer
        self.records = self.bytes = 0

    def progress(self) -> Progress:
        return Progress(self.current.number, self.records, self.bytes, len(self.bad), self.buffer)

    def good(self, data: bytes) -> None:
        self.writer.record(data)
        self.current.record(data)
        self.records += 1
        self.bytes += len(data)

    def filemark(self) -> None:
        self.writer.tape_mark()
        self.files.append(self.current.finish(complete=True))
        self.current = tape_stats.FileAccumulator(self.current.number + 1)

    def read(self) -> bytes:
        data, self.buffer = st_driver.read_one(self.drive, self.buffer)
        self.largest_buffer = max(self.largest_buffer, self.buffer)
        return data

    def finish(self, end: str) -> ReadResult:
        if not self.current.empty:
            self.files.append(self.current.finish(complete=False))
        self.writer.end_of_medium()
        return ReadResult(tuple(self.files), tuple(self.bad), end, self.largest_buffer)


def read_tape(
    drive: TapeDrive,
    writer: simh_tap.Writer,
    *,
    retries: int,
    first_file: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
) -> ReadResult:
    """Given a prepared drive (see ``prepare``) and a .tap writer, read to the end of data.

    ``first_file`` is the number of the file the drive is at (files before it were read by an
    earlier run); a filemark right there means the earlier run already saw the first of two.
    Return the files read, the bad records and why reading stopped. OSError other than a read
    error propagates; KeyboardInterrupt leaves the writer after the last complete entry.
    """
    reader = _Reader(drive, writer, first_file)
    previous_was_filemark = first_file > 0
    while True:
        try:
            data = reader.read()
        except OSError as error:
            if _at_end_of_data(drive):
                return reader.finish(END_OF_DATA)
            data = _recover(reader, error, retries=retries)
            if data is None:
                return reader.finish(END_UNSKIPPABLE)
            previous_was_filemark = False
            if data is _SKIPPED:
                continue
        if not data:
            if previous_was_filemark:
                reader.writer.tape_mark()  # kept: the image is the tape as it was written
                return reader.finish(END_TWO_FILEMARKS)
            reader.filemark()
            previous_was_filemark = True
        else:
            reader.good(data)
            previous_was_filemark = False
        if on_progress is not None:
            on_progress(reader.progress())


_SKIPPED = b"skipped"  # a sentinel, compared by identity: a record may hold these bytes


def _recover(reader: _Reader, error: OSError, *, retries: int) -> bytes | None:
    """Retry a failed record. Return its data when a retry read it; b"" when a retry met a
    filemark instead (the drive had moved past the record: it is written as an error record);
    _SKIPPED when it was written as an error record and the drive is past it; None when the
    drive cannot space over it."""
    block = reader.current.records  # the failed record's number within its file
    reason = _reason(error)
    attempts = 1
    while attempts <= retries and _back_to(reader.drive, block):
        attempts += 1
        try:
            data = reader.read()
        except OSError as again:
            reason = _reason(again)
            continue
        if not data:
            _lost(reader, block, attempts - 1, reason)
            return data
        logger.info("file %d record %d read on attempt %d", reader.current.number, block, attempts)
        return data
    _lost(reader, block, attempts, reason)
    return _SKIPPED if _past(reader.drive, block) else None


def _lost(reader: _Reader, block: int, attempts: int, reason: str) -> None:
    """Write record ``block`` as an error record and list it as bad."""
    reader.bad.append(BadRecord(reader.current.number, block, attempts, reason))
    logger.warning(
        "file %d record %d unreadable after %d attempts (%s): written as an error record",
        reader.current.number,
        block,
        attempts,
        reason,
    )
    reader.writer.error_record()
    reader.current.error_record()


def _reason(error: OSError) -> str:
    return os.strerror(error.errno) if error.errno else str(error)


def _back_to(drive: TapeDrive, block: int) -> bool:
    """Put the drive before record ``block`` of the current file; False when that cannot be
    known or done (a retry could then read the next record instead)."""
    try:
        position = drive.status().block_number
        if position == block + 1:
            drive.operation(st_driver.MTBSR, 1)
            return True
    except OSError:
        return False
    return position == block


def _past(drive: TapeDrive, block: int) -> bool:
    """Make sure the drive is past record ``block``; False when it is stuck before it."""
    try:
        position = drive.status().block_number
        if position == block:
            drive.operation(st_driver.MTFSR, 1)
    except OSError as error:
        logger.error("the drive cannot space over record %d: %s", block, _reason(error))
        return False
    if position < 0:
        logger.warning("the drive does not know its block number; reading on from where it is")
    return True
