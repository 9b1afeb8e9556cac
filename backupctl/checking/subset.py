"""Which part of the data one `check` reads: restic's ``--read-data-subset n/t``, rotating so
that t runs read everything. Pure."""

from __future__ import annotations

import math


def slices_for(*, percent: float | None, read_days: int, check_hours: float) -> int:
    """Given the share asked for (``--read-data-subset N%``; None: from the config), the days
    within which all data must be read and how often check runs, return t: the number of slices
    the data is read in (one per run)."""
    if percent is not None:
        return max(1, math.ceil(100 / percent))
    return max(1, math.floor(read_days * 24 / check_hours))


def next_slice(previous: tuple[int, int] | None, slices: int) -> int:
    """Given (n, t) of the last subset read (None: never) and t now, return the next n: the one
    after the last, wrapping; 1 when t changed."""
    if previous is None or previous[1] != slices:
        return 1
    return previous[0] % slices + 1
