"""A ddrescue mapfile drawn as ddrescueview draws it: pure geometry and an inline SVG.

Two views of the same mapfile, both to scale:

* a **grid** of cells in reading order, each cell an equal share of the medium, coloured by the
  worst status inside it (bad over non-scraped over non-trimmed over untried over rescued), so
  a single bad sector in a cell shows, as in ddrescueview;
* a **bar** with one rectangle per run of blocks of one status, its width proportional to its
  bytes (an area smaller than a pixel is drawn one pixel wide so that it stays visible, taking
  the pixel from what follows it).

Only numbers and fixed colours go into the SVG; nothing from the medium is written into it.
"""

from __future__ import annotations

import dataclasses

from recovery.mapfile import BlockStatus, Mapfile

# Colours close to ddrescueview's, also used by the report's legend (and by the screenshot test).
COLOURS = {
    BlockStatus.FINISHED: "#33aa33",
    BlockStatus.BAD_SECTOR: "#dd2222",
    BlockStatus.NON_TRIED: "#9a9a9a",
    BlockStatus.NON_TRIMMED: "#e8c000",
    BlockStatus.NON_SCRAPED: "#2a6fdb",
}
LABELS = {
    BlockStatus.FINISHED: "rescued",
    BlockStatus.BAD_SECTOR: "bad (unreadable)",
    BlockStatus.NON_TRIED: "untried",
    BlockStatus.NON_TRIMMED: "non-trimmed",
    BlockStatus.NON_SCRAPED: "non-scraped",
}
# Worst first: the status a cell shows when it holds several.
SEVERITY = (
    BlockStatus.BAD_SECTOR,
    BlockStatus.NON_SCRAPED,
    BlockStatus.NON_TRIMMED,
    BlockStatus.NON_TRIED,
    BlockStatus.FINISHED,
)
_RANK = {status: len(SEVERITY) - index for index, status in enumerate(SEVERITY)}


@dataclasses.dataclass(frozen=True)
class Run:
    """A horizontal stretch of the bar: start and width in pixels, and its status."""

    x: int
    width: int
    status: BlockStatus


def domain(mapfile: Mapfile) -> tuple[int, int]:
    """Given a mapfile, return (first byte, end byte) of the area its blocks cover."""
    blocks = [block for block in mapfile.blocks if block.size > 0]
    if not blocks:
        return 0, 0
    return blocks[0].position, blocks[-1].end


def cells(mapfile: Mapfile, count: int) -> tuple[BlockStatus | None, ...]:
    """Given a mapfile and a number of cells, return each cell's worst status (None: empty)."""
    start, end = domain(mapfile)
    span = end - start
    result: list[BlockStatus | None] = [None] * count
    if span <= 0:
        return tuple(result)
    for block in mapfile.blocks:
        if block.size <= 0:
            continue
        first = (block.position - start) * count // span
        last = min(count - 1, ((block.end - start) * count - 1) // span)
        for index in range(first, last + 1):
            current = result[index]
            if current is None or _RANK[block.status] > _RANK[current]:
                result[index] = block.status
    return tuple(result)


def runs(mapfile: Mapfile, width: int) -> tuple[Run, ...]:
    """Given a mapfile and the bar's width in pixels, return its runs, adjacent ones of one
    status joined; a non-rescued run narrower than a pixel gets one pixel."""
    start, end = domain(mapfile)
    span = end - start
    if span <= 0:
        return ()
    found: list[Run] = []
    for block in mapfile.blocks:
        if block.size <= 0:
            continue
        previous_end = found[-1].x + found[-1].width if found else 0
        left = max((block.position - start) * width // span, previous_end)
        right = (block.end - start) * width // span
        if right <= left and block.status is not BlockStatus.FINISHED:
            if left >= width and found and found[-1].width > 1:  # at the very end: take a pixel
                last = found.pop()
                found.append(Run(last.x, last.width - 1, last.status))
                left = width - 1
            right = min(width, left + 1)
        if right <= left:
            continue  # no pixel left for it (the grid still shows it)
        if found and found[-1].status is block.status and previous_end == left:
            left = found.pop().x
        found.append(Run(left, right - left, block.status))
    return tuple(found)


def svg(mapfile: Mapfile, *, columns: int = 64, rows: int = 16, cell: int = 11) -> str:
    """Given a mapfile, return an inline SVG of the grid above the bar, sized in pixels."""
    width = columns * cell
    grid_height = rows * cell
    bar_top, bar_height = grid_height + 10, 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sector-map" width="{width}"'
        f' height="{bar_top + bar_height}" viewBox="0 0 {width} {bar_top + bar_height}"'
        ' role="img" aria-label="sector map">',
        f'<rect x="0" y="0" width="{width}" height="{grid_height}" fill="#ffffff"/>',
    ]
    for index, status in enumerate(cells(mapfile, columns * rows)):
        if status is None:
            continue
        x, y = (index % columns) * cell, (index // columns) * cell
        parts.append(
            f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}"'
            f' fill="{COLOURS[status]}"/>'
        )
    parts.append(
        f'<rect x="0" y="{bar_top}" width="{width}" height="{bar_height}" fill="#ffffff"/>'
    )
    for run in runs(mapfile, width):
        parts.append(
            f'<rect x="{run.x}" y="{bar_top}" width="{run.width}" height="{bar_height}"'
            f' fill="{COLOURS[run.status]}"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
