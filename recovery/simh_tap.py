"""The SIMH magnetic tape image format (.tap): a pure reader and writer over file objects.

A .tap file is a sequence of 4-byte little-endian words and record data:

* a data record: its length L, L bytes of data, one zero byte of padding when L is odd, and L
  again (so the tape can be read backwards);
* a tape mark (filemark): the single word 0;
* end of medium: the single word 0xFFFFFFFF (nothing after it is tape);
* an erase gap: the single word 0xFFFFFFFE (skipped by the reader);
* the error flag 0x80000000 in a length marks a record the drive could not read; its data (when
  any) is what the drive returned. ``tape image`` writes an unreadable record as length 0 with
  the flag.

The reader bounds every record (MAX_RECORD, 16 MiB - 1, SIMH's own limit) and tells "not a .tap
file / damaged" by raising TapFormatError with the record number and byte offset; it never reads
more than one record into memory at a time.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from recovery import errors

TAPE_MARK = 0x00000000
END_OF_MEDIUM = 0xFFFFFFFF
ERASE_GAP = 0xFFFFFFFE
ERROR_FLAG = 0x80000000
MAX_RECORD = 0x00FFFFFF  # SIMH MTR_MAXLEN: the largest record length a .tap can hold
_WORD = struct.Struct("<I")


class TapFormatError(errors.RecoveryError):
    """The file is not a well-formed SIMH .tap image (told with record number and offset)."""

    exit_code = 3

    def __init__(self, message: str, *, record: int, offset: int) -> None:
        super().__init__(f"{message} (record {record}, byte offset {offset})")
        self.record, self.offset = record, offset


@dataclasses.dataclass(frozen=True)
class Record:
    """A data record; ``error`` when the drive could not read it (data may be partial/empty)."""

    data: bytes
    error: bool = False


@dataclasses.dataclass(frozen=True)
class TapeMark:
    """A filemark: the end of one tape file."""


@dataclasses.dataclass(frozen=True)
class EndOfMedium:
    """The end of the recorded medium."""


Entry = Record | TapeMark | EndOfMedium


def _word(stream: BinaryIO, *, record: int, offset: int, what: str) -> int | None:
    raw = stream.read(4)
    if not raw:
        return None
    if len(raw) < 4:
        raise TapFormatError(
            f"truncated {what} ({len(raw)} of 4 bytes)", record=record, offset=offset
        )
    return _WORD.unpack(raw)[0]


def read(stream: BinaryIO, *, max_record: int = MAX_RECORD) -> Iterator[Entry]:
    """Given a binary stream at the start of a .tap image, yield its entries in order.

    Stop after EndOfMedium or at the end of the file (an entry boundary). Raise TapFormatError
    (with the 1-based record number and the byte offset of the entry) on a truncated entry, a
    length over ``max_record``, an unknown record class or trailing length that differs.
    """
    offset, number = 0, 0
    while True:
        number += 1
        word = _word(stream, record=number, offset=offset, what="record length")
        if word is None:
            return
        if word == TAPE_MARK:
            offset += 4
            yield TapeMark()
            continue
        if word == END_OF_MEDIUM:
            yield EndOfMedium()
            return
        if word == ERASE_GAP:
            offset += 4
            number -= 1
            continue
        entry = _data_record(stream, word, record=number, offset=offset, max_record=max_record)
        offset += 8 + len(entry.data) + len(entry.data) % 2
        yield entry


def _data_record(
    stream: BinaryIO, word: int, *, record: int, offset: int, max_record: int
) -> Record:
    error = bool(word & ERROR_FLAG)
    length = word & ~ERROR_FLAG
    if length > max_record:
        kind = "unknown record class or marker" if length > MAX_RECORD else "record too large"
        raise TapFormatError(
            f"{kind}: length word 0x{word:08x} (at most {max_record} bytes are accepted)",
            record=record,
            offset=offset,
        )
    padded = length + length % 2
    data = stream.read(padded)
    if len(data) < padded:
        raise TapFormatError(
            f"truncated record: {len(data)} of {padded} bytes of data", record=record, offset=offset
        )
    trailer = _word(stream, record=record, offset=offset, what="trailing length")
    if trailer != word:
        shown = "missing" if trailer is None else f"0x{trailer:08x}"
        raise TapFormatError(
            f"trailing length {shown} differs from leading 0x{word:08x}",
            record=record,
            offset=offset,
        )
    return Record(data[:length], error)


class Sink(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


class Writer:
    """Write .tap entries to a binary stream (or anything with ``write``); count the bytes."""

    def __init__(self, stream: Sink) -> None:
        self.stream = stream
        self.bytes_written = 0

    def _put(self, data: bytes) -> None:
        self.stream.write(data)
        self.bytes_written += len(data)

    def record(self, data: bytes, *, error: bool = False) -> None:
        """Write one data record (with the error flag when ``error``); raise ValueError when it
        is longer than MAX_RECORD, or empty and good (its length word would be a tape mark)."""
        if len(data) > MAX_RECORD:
            raise ValueError(f"a .tap record holds at most {MAX_RECORD} bytes, not {len(data)}")
        if not data and not error:
            raise ValueError("an empty good record would read back as a tape mark")
        word = _WORD.pack(len(data) | (ERROR_FLAG if error else 0))
        self._put(word + data + b"\0" * (len(data) % 2) + word)

    def error_record(self, data: bytes = b"") -> None:
        """Write a record the drive could not read (empty unless partial data was returned)."""
        self.record(data, error=True)

    def tape_mark(self) -> None:
        self._put(_WORD.pack(TAPE_MARK))

    def end_of_medium(self) -> None:
        self._put(_WORD.pack(END_OF_MEDIUM))

    def write(self, entry: Entry) -> None:
        """Write any entry the reader yields."""
        if isinstance(entry, Record):
            self.record(entry.data, error=entry.error)
        elif isinstance(entry, TapeMark):
            self.tape_mark()
        else:
            self.end_of_medium()


def encoded_size(entry: Entry) -> int:
    """Given an entry, return how many bytes it takes in a .tap file."""
    if isinstance(entry, Record):
        return 8 + len(entry.data) + len(entry.data) % 2
    return 4
