"""Decide which repository files must go where: pure, from the locations' listings alone.

restic names every key, pack, index and snapshot file by the SHA-256 of its content, so a file
present on one location and missing (or of another size) on another can be copied and verified
without any password. The plan never deletes: deletions happen only through rotation.
"""

from __future__ import annotations

import dataclasses

# Copy in this order, so that a destination interrupted half-way never holds a snapshot whose
# index or data is missing: the repository stays valid for restic at every moment.
CATEGORY_ORDER = ("config", "keys", "data", "index", "snapshots")


@dataclasses.dataclass(frozen=True)
class Transfer:
    """One file to copy: read it from the first origin that verifies, write it where it is lacking."""

    path: str
    origins: tuple[str, ...]  # locations holding it, preferred first
    holders: tuple[tuple[str, int], ...]  # (location, size) of every location holding it
    lacking: tuple[str, ...]  # locations that do not have it at all

    @property
    def sizes_disagree(self) -> bool:
        return len({size for _, size in self.holders}) > 1


def category(path: str) -> str:
    return path.split("/", 1)[0]


def plan(listings: dict[str, dict[str, int]], preference: tuple[str, ...]) -> tuple[Transfer, ...]:
    """Given each reachable location's listing (path -> size) and the preferred origin order,
    return the transfers that make every location hold every file, in a crash-safe order."""
    every_path = set().union(*listings.values()) if listings else set()
    ranked = [name for name in preference if name in listings]
    transfers = []
    for path in every_path:
        holders = tuple((name, listings[name][path]) for name in ranked if path in listings[name])
        lacking = tuple(name for name in ranked if path not in listings[name])
        transfer = Transfer(path=path, origins=tuple(name for name, _ in holders),
                            holders=holders, lacking=lacking)
        if lacking or transfer.sizes_disagree:
            transfers.append(transfer)
    return tuple(sorted(transfers, key=_order_key))


def _order_key(transfer: Transfer) -> tuple[int, str]:
    name = category(transfer.path)
    rank = CATEGORY_ORDER.index(name) if name in CATEGORY_ORDER else len(CATEGORY_ORDER)
    return (rank, transfer.path)


def destinations(transfer: Transfer, verified_size: int) -> tuple[str, ...]:
    """Given a transfer and the size of its verified content, return where it must be written:
    every location lacking it, and every location holding a copy of another size (damaged)."""
    damaged = tuple(name for name, size in transfer.holders if size != verified_size)
    return transfer.lacking + damaged
