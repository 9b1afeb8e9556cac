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
ZERO_BLOCK = 65536
_ZEROS = bytes(ZERO_BLOCK)
_NON_NUL = re.compile(rb"[^\x00]{%d,}" % MIN_LENGTH)  # shorter runs cannot be a text file
_ASCII = bytes(range(128))
MAX_HIGH_SHARE = 0.1
_CONTROL = re.compile(rb"[\x01-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def _non_nul_runs(data: bytes) -> Iterator[re.Match]:
    """The NUL-free runs of ``data`` at least MIN_LENGTH long; an all-zero block is skipped
    without the regex (fast), and each block is counted once."""
    position = 0
    for block_start in range(0, len(data), ZERO_BLOCK):
        block_end = min(block_start + ZERO_BLOCK, len(data))
        start = max(position, block_start)
        if start >= block_end or data[start:block_end] == _ZEROS[: block_end - start]:
            continue
        while start < block_end:
            # a run starting in this block shows its first MIN_LENGTH bytes before this bound
            first = _NON_NUL.search(data, start, block_end + MIN_LENGTH)
            if first is None or first.start() >= block_end:
                break
            match = _NON_NUL.match(data, first.start())  # the whole run, past the block
            yield match
            start = position = match.end()


def _is_text(piece: bytes) -> bool:
    """UTF-8, or an 8-bit text (Latin-1, as old HTML) where bytes above 127 are a minority."""
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return len(piece.translate(None, _ASCII)) <= MAX_HIGH_SHARE * len(piece)
    return True


def _text_start(data: bytes, start: int, end: int, base: int) -> int | None:
    """Return where the text file at the end of the NUL-free run [start, end) begins: the first
    sector boundary after its last control character (binary data of another file may end right
    before it, with no NUL between); None when there is no such text."""
    bad = None
    for bad in _CONTROL.finditer(data, start, end):  # noqa: B007 (the last one is wanted)
        pass
    first = start if bad is None else bad.end()
    boundary = first + (-(base + first) % SECTOR)
    if end - boundary < MIN_LENGTH or not _is_text(data[boundary:end]):
        return None
    return boundary


def text_runs(data: bytes, base: int, *, complete_end: bool) -> Iterator[ByteRun]:
    """Given bytes read from image offset ``base``, yield the text files in them: text ending
    at a NUL (or the area's end) and starting at a sector boundary. A run touching the end of
    ``data`` is left out unless ``complete_end`` (the caller carries it into the next chunk)."""
    for match in _non_nul_runs(data):
        start, end = match.span()
        if end == len(data) and not complete_end:
            continue
        begin = _text_start(data, start, end, base)
        if begin is not None and MIN_LENGTH <= end - begin <= MAX_LENGTH:
            yield ByteRun(base + begin, end - begin)


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
