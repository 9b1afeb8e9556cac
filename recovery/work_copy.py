"""The compact work copy PhotoRec carves: only the unaccounted areas, long zero stretches left out.

PhotoRec reads every byte it is given. Giving it the whole image (with the accounted areas
zeroed) makes it read a medium's worth of zeros; so the copy holds the unaccounted areas block
by block (64 KiB, at their offset within the block), leaving out stretches of at least
``SKIP_ZEROS`` all-zero blocks. Shorter zero stretches between kept blocks stay (as holes), so
a file with up to 1 MiB of zeros inside carves whole. ``slots`` maps each block of the copy to
its block on the image; ``to_image`` turns PhotoRec's runs on the copy into runs on the image.
"""

from __future__ import annotations

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


def write(image: pathlib.Path, copy: pathlib.Path, areas: tuple[ByteRun, ...]) -> tuple[int, ...]:
    """Given the image and the areas to carve, write the compact copy (0600, never through a
    symlink); return its slots: the image offset of each of its blocks."""
    slots = _Slots()
    with open(image, "rb") as source:
        descriptor = os.open(copy, FLAGS, 0o600)
        try:
            for block_start, start, end in _pieces(areas):
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
