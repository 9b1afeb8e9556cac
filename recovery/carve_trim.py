"""Where a carved file truly ends, for the formats that say so themselves.

A carver reads on past the end of a file when the format check is loose (PhotoRec hands back a
gzip stream followed by the rest of the medium). Here the format is read: gzip to the end of
its deflate stream and trailer, PNG to its IEND chunk, JPEG to its EOI marker, ZIP to the end
of its central directory, text to its first NUL. Pure functions over bytes; each returns the
true length, or None when the data is not (a complete file of) that format.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_EXTENSIONS = frozenset(
    {"txt", "html", "htm", "xml", "c", "h", "py", "pl", "sh", "md", "css", "js", "json", "csv"}
    | {"svg", "ini", "tex", "rtf", "ps", "eps", "mbox", "po"}
)


def gzip_length(data: bytes) -> int | None:
    """Return the length of the gzip member at the start of ``data``."""
    if not data.startswith(b"\x1f\x8b"):
        return None
    decompressor = zlib.decompressobj(wbits=31)
    try:
        for start in range(0, len(data), 1 << 20):
            decompressor.decompress(data[start : start + (1 << 20)], 0)
            if decompressor.eof:
                return start + min(len(data) - start, 1 << 20) - len(decompressor.unused_data)
    except zlib.error:
        return None
    return None


def png_length(data: bytes) -> int | None:
    """Return the length of the PNG at the start of ``data`` (through its IEND chunk)."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        if length > 0x7FFFFFFF or not kind.isalpha():
            return None
        position += 12 + length
        if kind == b"IEND":
            return position if position <= len(data) else None
    return None


def jpeg_length(data: bytes) -> int | None:
    """Return the length of the JPEG at the start of ``data`` (through its EOI marker)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xD9:
            return position + 2
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            position += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
        if marker == 0xDA:  # entropy-coded data: up to the next marker that is not RSTn or 00
            position = _after_scan(data, position)
            if position is None:
                return None
    return None


def _after_scan(data: bytes, position: int) -> int | None:
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            return None
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            position += 1
            continue
        return position


def zip_length(data: bytes) -> int | None:
    """Return the length of the ZIP at the start of ``data`` (through its end record)."""
    if not data.startswith(b"PK\x03\x04"):
        return None
    end = data.find(b"PK\x05\x06")
    if end < 0 or end + 22 > len(data):
        return None
    (comment,) = struct.unpack("<H", data[end + 20 : end + 22])
    return end + 22 + comment if end + 22 + comment <= len(data) else None


def text_length(data: bytes) -> int | None:
    """Return where a text file ends: its first NUL byte (the slack after it is zeros)."""
    end = data.find(b"\0")
    return len(data) if end < 0 else end


FORMATS: dict[str, Callable[[bytes], int | None]] = {
    "gz": gzip_length,
    "tgz": gzip_length,
    "png": png_length,
    "jpg": jpeg_length,
    "zip": zip_length,
    **dict.fromkeys(TEXT_EXTENSIONS, text_length),
}


def true_length(extension: str, data: bytes) -> int | None:
    """Given a carved file's extension and content, return its true length, None when unknown."""
    measure = FORMATS.get(extension.lower())
    if measure is None:
        return None
    length = measure(data)
    return length if length is not None and 0 < length <= len(data) else None
