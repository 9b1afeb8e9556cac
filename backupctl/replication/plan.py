"""Decide which repository files must go where: pure, from the manifest and the listings alone.

Only files in the source's manifest (the files backupctl saw restic write) are ever copied, and
only from a location holding them at the manifest's size. restic names every key, pack, index and
snapshot file by the SHA-256 of its content, so a copy can be verified without any password. A file
at a location that is not in the manifest is *foreign*: reported, never copied, never deleted. A
file the toolkit deleted itself (marked in the manifest) is removed wherever it is still present.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from backupctl.replication.manifest import Manifest
from backupctl.results import ForeignFile

# Copy in this order, so that a destination interrupted half-way never holds a snapshot whose
# index or data is missing: the repository stays valid for restic at every moment. Removals go
# the other way round (a snapshot disappears before the data it names).
CATEGORY_ORDER = ("config", "keys", "data", "index", "snapshots")


@dataclasses.dataclass(frozen=True)
class Transfer:
    """One manifest file to copy: read it from the first origin that verifies, write it where it
    is lacking or held at another size."""

    path: str
    size: int  # the manifest's size: a copy of any other size is damaged
    origins: tuple[str, ...]  # locations holding it at the manifest size, preferred first
    lacking: tuple[str, ...]  # locations that do not have it at all
    damaged: tuple[str, ...] = ()  # locations holding it at another size: never read
    reason: str = ""

    @property
    def destinations(self) -> tuple[str, ...]:
        return self.lacking + self.damaged


@dataclasses.dataclass(frozen=True)
class Removal:
    location: str
    path: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Plan:
    locations: tuple[str, ...]  # the reachable locations, preferred first
    transfers: tuple[Transfer, ...]
    foreign: tuple[ForeignFile, ...]
    removals: tuple[Removal, ...]
    unavailable: tuple[str, ...]  # manifest files no reachable location holds at its size

    @property
    def total_bytes(self) -> int:
        return sum(t.size * len(t.destinations) for t in self.transfers)


def category(path: str) -> str:
    return path.split("/", 1)[0]


def plan(
    manifest: Manifest, listings: Mapping[str, Mapping[str, int]], preference: tuple[str, ...]
) -> Plan:
    """Given the manifest, each reachable location's listing (path -> size) and the preferred
    origin order, return the transfers (crash-safe order), foreign files and removals."""
    ranked = tuple(name for name in preference if name in listings)
    ranked += tuple(sorted(name for name in listings if name not in ranked))
    transfers, unavailable = [], []
    for path, size in manifest.files.items():
        origins = tuple(name for name in ranked if listings[name].get(path) == size)
        lacking = tuple(name for name in ranked if path not in listings[name])
        damaged = tuple(
            name for name in ranked if path in listings[name] and listings[name][path] != size
        )
        if not (lacking or damaged):
            continue
        if not origins:
            unavailable.append(path)
            continue
        transfers.append(
            Transfer(
                path,
                size,
                origins,
                lacking,
                damaged,
                reason=_reason(lacking, damaged, size, listings, path),
            )
        )
    return Plan(
        locations=ranked,
        transfers=tuple(sorted(transfers, key=lambda t: _order_key(t.path))),
        foreign=tuple(
            ForeignFile(name, path, size)
            for name in ranked
            for path, size in sorted(listings[name].items())
            if path not in manifest.files and path not in manifest.deleted
        ),
        removals=tuple(
            sorted(
                (
                    Removal(name, path, "deleted by backupctl, still present here")
                    for name in ranked
                    for path in listings[name]
                    if path in manifest.deleted
                ),
                key=lambda r: (_order_key(r.path, reverse=True), r.location),
            )
        ),
        unavailable=tuple(sorted(unavailable, key=_order_key)),
    )


def _reason(lacking, damaged, size, listings, path) -> str:
    parts = [f"missing at {', '.join(lacking)}"] if lacking else []
    parts += [f"size {listings[name][path]} at {name}, manifest says {size}" for name in damaged]
    return "; ".join(parts)


def _order_key(path: str, *, reverse: bool = False) -> tuple[int, str]:
    name = category(path)
    rank = CATEGORY_ORDER.index(name) if name in CATEGORY_ORDER else len(CATEGORY_ORDER)
    return (-rank if reverse else rank, path)
