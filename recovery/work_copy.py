"""The compact work copy PhotoRec carves: only the unaccounted areas, long zero stretches left out.

PhotoRec reads every byte it is given. Giving it the whole image (with the accounted areas
zeroed) makes it read a medium's worth of zeros; so the copy holds the unaccounted areas block
by block (64 KiB, at their offset within the block), leaving out stretches of at least
``SKIP_ZEROS`` all-zero blocks. Shorter zero stretches between kept blocks stay (as holes), so
a file with up to 1 MiB of zeros inside carves whole. ``slots`` maps each block of the copy to
its block on the image; ``to_image`` turns PhotoRec's runs on the copy into runs on the image.
Holes of a sparse image (ddrescue's ``--sparse``, most test media) are found with
``SEEK_DATA``/``SEEK_HOLE`` and never read: they are zeros.
"""

from __future__ import annotations

import errno
import os
import pathlib
from collections.abc import Iterator

from recovery.scan_model import ByteRun

BLOCK = 64 << 10
SKIP_ZEROS = 16  # all-zero blocks in a row that are left out of the copy (1 MiB)
_ZEROS = bytes(BLOCK)
FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _pieces(areas: tuple[ByteRun, ...]) -> Iterator[tuple[int, int, int]]:
    """Yield (block start, start, end) for every part of the areas within one block."""
    for area in areas:
        position = area.offset
        while position < area.end:
            block_start = position - position % BLOCK
            end = min(area.end, block_start + BLOCK)
            yield block_start, position, end
            position = end


class _Slots:
    """The blocks of the copy so far, and the zero blocks seen since the last kept one."""

    def __init__(self) -> None:
        self.blocks: list[int] = []
        self.zeros: list[int] = []

    def zero(self, block_start: int) -> None:
        kept = bool(self.blocks) and self.blocks[-1] == block_start  # a zero piece of a kept block
        if not kept and (not self.zeros or self.zeros[-1] != block_start):
            self.zeros.append(block_start)

    def keep(self, block_start: int) -> int:
        """Return the copy offset of image block ``block_start``, keeping a short zero stretch
        before it when it follows the last kept block without a gap."""
        if self.blocks and self.blocks[-1] == block_start:
            self.zeros.clear()
            return (len(self.blocks) - 1) * BLOCK
        contiguous = (
            self.blocks
            and self.zeros
            and self.zeros[0] == self.blocks[-1] + BLOCK
            and self.zeros[-1] + BLOCK == block_start
            and len(self.zeros) < SKIP_ZEROS
        )
        if contiguous:
            self.blocks.extend(self.zeros)
        self.zeros.clear()
        self.blocks.append(block_start)
        return (len(self.blocks) - 1) * BLOCK


def data_blocks(descriptor: int, size: int) -> tuple[ByteRun, ...] | None:
    """Given an open file and its size, return the whole blocks that may hold data (the rest
    are holes: zeros), in order; None when the file system cannot tell holes."""
    found: list[ByteRun] = []
    position = 0
    while position < size:
        try:
            start = os.lseek(descriptor, position, os.SEEK_DATA)
            end = min(os.lseek(descriptor, start, os.SEEK_HOLE), size)
        except OSError as error:
            if error.errno == errno.ENXIO:  # no data past ``position``
                break
            return None
        start -= start % BLOCK
        end += -end % BLOCK
        if found and start <= found[-1].end:
            start = found.pop().offset
        found.append(ByteRun(start, end - start))
        position = end
    return tuple(found)


def _segments(area: ByteRun, data: tuple[ByteRun, ...] | None) -> Iterator[tuple[ByteRun, bool]]:
    """Split the area into (part, may hold data) along the data blocks (all of it when
    ``data`` is None)."""
    if data is None:
        yield area, True
        return
    position = area.offset
    for run in data:
        if run.end <= position:
            continue
        if run.offset >= area.end:
            break
        if run.offset > position:
            yield ByteRun(position, run.offset - position), False
        end = min(run.end, area.end)
        yield ByteRun(max(position, run.offset), end - max(position, run.offset)), True
        position = end
    if position < area.end:
        yield ByteRun(position, area.end - position), False


def _hole(slots: _Slots, part: ByteRun) -> None:
    """Record the whole-block hole ``part`` as zero blocks without reading it; past SKIP_ZEROS
    blocks only its last one matters (the stretch is too long to keep anyway)."""
    first = part.offset - part.offset % BLOCK
    last = part.end - 1 - (part.end - 1) % BLOCK
    for block_start in range(first, min(last, first + SKIP_ZEROS * BLOCK) + 1, BLOCK):
        slots.zero(block_start)
    slots.zero(last)


def write(image: pathlib.Path, copy: pathlib.Path, areas: tuple[ByteRun, ...]) -> tuple[int, ...]:
    """Given the image and the areas to carve, write the compact copy (0600, never through a
    symlink); return its slots: the image offset of each of its blocks."""
    slots = _Slots()
    with open(image, "rb") as source:
        data = data_blocks(source.fileno(), os.fstat(source.fileno()).st_size)
        descriptor = os.open(copy, FLAGS, 0o600)
        try:
            for area in areas:
                for part, may_hold_data in _segments(area, data):
                    if not may_hold_data:
                        _hole(slots, part)
                        continue
                    for block_start, start, end in _pieces((part,)):
                        source.seek(start)
                        chunk = source.read(end - start)
                        if chunk == _ZEROS[: len(chunk)]:  # memcmp: faster than counting
                            slots.zero(block_start)
                            continue
                        offset = slots.keep(block_start)
                        os.pwrite(descriptor, chunk, offset + start - block_start)
            os.ftruncate(descriptor, len(slots.blocks) * BLOCK)
        finally:
            os.close(descriptor)
    return tuple(slots.blocks)


def to_image(runs: tuple[ByteRun, ...], slots: tuple[int, ...] | None) -> tuple[ByteRun, ...]:
    """Given runs on the copy (in file order) and its slots, return the runs on the image;
    None for slots: the runs are on the image already."""
    if slots is None:
        return runs
    mapped: list[ByteRun] = []
    for run in runs:
        position, remaining = run.offset, run.length
        while remaining > 0:
            slot, within = divmod(position, BLOCK)
            piece = min(remaining, BLOCK - within)
            if slot < len(slots):
                start = slots[slot] + within
                if mapped and mapped[-1].end == start:
                    mapped[-1] = ByteRun(mapped[-1].offset, mapped[-1].length + piece)
                else:
                    mapped.append(ByteRun(start, piece))
            position += piece
            remaining -= piece
    return tuple(mapped)
