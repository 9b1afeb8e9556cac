"""What is known about one tape file: its records, sizes, SHA-256 and detected format.

The same accumulator serves ``tape image`` (fed from the drive) and ``tape files`` (fed from a
.tap image), so both report the same numbers. Formats are a table of signatures (offset, magic)
tried on the first bytes of the file; the first that matches names it.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib

HEAD_BYTES = 1024  # the first bytes of a tape file kept for format detection

# (name, offset, magic): the table of formats a workshop meets on tapes
SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("tar (POSIX ustar)", 257, b"ustar\x0000"),
    ("tar (GNU)", 257, b"ustar  \x00"),
    ("cpio (newc)", 0, b"070701"),
    ("cpio (newc, crc)", 0, b"070702"),
    ("cpio (odc)", 0, b"070707"),
    ("cpio (binary, little-endian)", 0, b"\xc7\x71"),
    ("cpio (binary, big-endian)", 0, b"\x71\xc7"),
    ("gzip", 0, b"\x1f\x8b"),
    ("bzip2", 0, b"BZh"),
    ("xz", 0, b"\xfd7zXZ\x00"),
    ("zstd", 0, b"\x28\xb5\x2f\xfd"),
    ("lz4", 0, b"\x04\x22\x4d\x18"),
    ("lzip", 0, b"LZIP"),
    ("compress (.Z)", 0, b"\x1f\x9d"),
    ("zip", 0, b"PK\x03\x04"),
    ("ANSI tape label (VOL1)", 0, b"VOL1"),
    ("ANSI tape label (HDR1)", 0, b"HDR1"),
    ("ANSI tape label (EOF1)", 0, b"EOF1"),
    ("dump/restore", 24, b"\x6c\xea\x00\x00"),  # NFS_MAGIC 60012, little-endian
    ("dump/restore (big-endian)", 24, b"\x00\x00\xea\x6c"),
    ("Bacula volume", 12, b"BB02"),
)
TAR_NAMES = frozenset(name for name, _, _ in SIGNATURES if name.startswith("tar"))


def detect_format(head: bytes) -> str | None:
    """Given the first bytes of a tape file, return the name of its format, None when unknown."""
    for name, offset, magic in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    if len(head) >= 512 and _is_old_tar_header(head[:512]):
        return "tar (v7)"
    return None


def _is_old_tar_header(block: bytes) -> bool:
    """A pre-POSIX tar header has no magic; its checksum field is the sum of its bytes."""
    field = block[148:156].replace(b"\x00", b" ").strip()
    if not field or not all(48 <= byte <= 55 for byte in field):
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    return int(field, 8) == unsigned and any(block[:100])


@dataclasses.dataclass(frozen=True)
class TapeFile:
    """One tape file (the records between two filemarks)."""

    number: int
    records: int
    bytes: int
    error_records: int
    smallest: int | None
    largest: int | None
    common_sizes: tuple[tuple[int, int], ...]  # (size, count), most common first, at most 5
    sha256: str
    format: str | None
    complete: bool  # ended by a filemark (not by an error or the end of the medium)

    @property
    def usual_size(self) -> int | None:
        """The most common record size (what an unreadable record most likely held)."""
        return self.common_sizes[0][0] if self.common_sizes else None

    def to_dict(self) -> dict:
        result = dataclasses.asdict(self)
        result["common_sizes"] = [list(pair) for pair in self.common_sizes]
        return result


class FileAccumulator:
    """Feed the records of one tape file; ``finish`` returns its TapeFile."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.sizes: collections.Counter[int] = collections.Counter()
        self.digest = hashlib.sha256()
        self.head = b""
        self.records = self.bytes = self.error_records = 0

    def record(self, data: bytes) -> None:
        self.records += 1
        self.bytes += len(data)
        self.sizes[len(data)] += 1
        self.digest.update(data)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]

    def error_record(self) -> None:
        self.records += 1
        self.error_records += 1

    @property
    def empty(self) -> bool:
        return self.records == 0

    def finish(self, *, complete: bool) -> TapeFile:
        return TapeFile(
            number=self.number,
            records=self.records,
            bytes=self.bytes,
            error_records=self.error_records,
            smallest=min(self.sizes) if self.sizes else None,
            largest=max(self.sizes) if self.sizes else None,
            common_sizes=tuple(self.sizes.most_common(5)),
            sha256=self.digest.hexdigest(),
            format=detect_format(self.head),
            complete=complete,
        )
