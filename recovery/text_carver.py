"""Carving plain text files, which carry no signature a carver could look for.

On a medium a file starts at a block boundary and the rest of its last block is zeros (fresh
media, and most file systems zero the tail). So text that starts at a sector boundary and ends
at the first NUL is a text file of exactly that length: a license, a README, a log, a script.
Text here is UTF-8, or 8-bit text (Latin-1, as in old HTML) with at most 10% bytes above 127,
without control characters but tab, line ends, form feed and escape. PhotoRec finds text only
by known headers, and cuts what it finds at block ends. Pure functions over bytes; the caller
feeds an area in chunks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from recovery.scan_model import ByteRun

SECTOR = 512
MIN_LENGTH = 64
MAX_LENGTH = 64 << 20
_ASCII = bytes(range(128))
MAX_HIGH_SHARE = 0.1
# control characters a text file does not hold (tab, line ends, form feed and escape it may)
CONTROL = bytes((*range(1, 9), 11, *range(14, 27), *range(28, 32), 127))
# NUL and control characters become NUL: a text file is a NUL-free stretch of the translation
_CONTROL_TO_NUL = bytes(0 if value in CONTROL else value for value in range(256))
_NON_NUL = re.compile(rb"[^\x00]")
ZERO_BLOCK = 65536
_ZEROS = bytes(ZERO_BLOCK)


def _next_non_nul(clean: bytes, position: int) -> int | None:
    """Return the first non-NUL position at or after ``position``. A regex crawls through
    zeros: past a short look, all-NUL blocks are skipped by comparing (C speed)."""
    found = _NON_NUL.search(clean, position, position + SECTOR)
    if found is not None:
        return found.start()
    position += SECTOR
    while position < len(clean):
        block_end = min(position - position % ZERO_BLOCK + ZERO_BLOCK, len(clean))
        if clean[position:block_end] != _ZEROS[: block_end - position]:
            return _NON_NUL.search(clean, position, block_end).start()
        position = block_end
    return None


def _is_text(piece: bytes) -> bool:
    """UTF-8, or an 8-bit text (Latin-1, as old HTML) where bytes above 127 are a minority."""
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return len(piece.translate(None, _ASCII)) <= MAX_HIGH_SHARE * len(piece)
    return True


def _up(position: int, base: int) -> int:
    """The first position at or after ``position`` on a sector boundary of the image."""
    return position + (-(base + position) % SECTOR)


def text_runs(data: bytes, base: int, *, complete_end: bool) -> Iterator[ByteRun]:
    """Given bytes read from image offset ``base``, yield the text files in them: text (no
    control characters) from a sector boundary to the next NUL (or the area's end). A run
    touching the end of ``data`` is left out unless ``complete_end`` (the caller carries it
    into the next chunk).

    One C-speed translation marks NUL and control characters alike; then each sector boundary
    costs one ``find``, and zeros are skipped a block at a time.
    """
    clean = data.translate(_CONTROL_TO_NUL)
    position = 0
    while position < len(data):
        first = _next_non_nul(clean, position)  # skip zeros (and control characters)
        if first is None:
            return
        start = _up(first, base)
        if start >= len(data):
            return
        end = clean.find(0, start)
        if end < 0:
            if not complete_end:
                return
            end = len(data)
        ends_at_nul = end == len(data) or data[end] == 0  # not at a control character
        if ends_at_nul and MIN_LENGTH <= end - start <= MAX_LENGTH and _is_text(data[start:end]):
            yield ByteRun(base + start, end - start)
        position = end + 1


def scan_area(
    read: Callable[[int, int], bytes], area: ByteRun, *, chunk: int = 8 << 20
) -> Iterator[ByteRun]:
    """Given ``read(offset, length) -> bytes`` on the image and an area, yield its text files.

    A run still open at a chunk's end is read again from its start with the next chunk (a
    longer one when the run fills the chunk, up to MAX_LENGTH).
    """
    position, length = area.offset, chunk
    while position < area.end:
        data = read(position, min(length, area.end - position))
        if not data:
            return
        last = position + len(data) >= area.end
        yield from text_runs(data, position, complete_end=last)
        if last:
            return
        open_run = data.rfind(b"\0") + 1 if data[-1] else len(data)
        if open_run == 0 and length <= MAX_LENGTH:
            length *= 2  # one run fills the chunk: read it again, longer
            continue
        position, length = position + max(open_run, SECTOR), chunk
