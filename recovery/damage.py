"""How many bytes of a recovered file lie where ddrescue could not read the medium.

The ddrescue mapfile marks each area of the image finished (``+``) or not: bad sectors, and
areas not tried, trimmed or scraped yet. The image holds zeros there, so a file with bytes in
such an area may be damaged.
"""

from __future__ import annotations

from recovery import mapfile as mapfile_module
from recovery.scan_model import ByteRun, merge_runs, overlap


def unreadable_runs(mapfile: mapfile_module.Mapfile | None) -> tuple[ByteRun, ...]:
    """Given the job's mapfile (None when there is none), return its unfinished areas merged."""
    if mapfile is None:
        return ()
    return merge_runs(
        ByteRun(block.position, block.size)
        for block in mapfile.blocks
        if block.status is not mapfile_module.BlockStatus.FINISHED
    )


def damaged_bytes(runs: tuple[ByteRun, ...], unreadable: tuple[ByteRun, ...]) -> int:
    """Given a file's byte runs and the image's unreadable runs, return the bytes they share."""
    if not unreadable or not runs:
        return 0
    return overlap(merge_runs(runs), unreadable)
