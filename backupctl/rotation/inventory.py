"""What snapshots each reachable location of a source holds, as restic lists them there, and
the facts the planner needs about each (times, tags, the history it belongs to)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import logging
from collections.abc import Mapping

from backupctl import errors, reach
from backupctl.keys.secret import Secret
from backupctl.restic import messages, operations
from backupctl.restic.flags import Restic
from policies.rotation import SnapshotFacts

logger = logging.getLogger(__name__)
SNAPSHOT_PREFIX = "snapshots/"


@dataclasses.dataclass(frozen=True)
class Inventory:
    """The snapshots found, by id, and the locations holding each (preference order)."""

    snapshots: Mapping[str, messages.Snapshot]
    holders: Mapping[str, tuple[str, ...]]

    def at(self, location: str) -> tuple[str, ...]:
        return tuple(sid for sid, names in self.holders.items() if location in names)


def snapshot_path(snapshot_id: str) -> str:
    return SNAPSHOT_PREFIX + snapshot_id


def snapshot_ids(listing: Mapping[str, int]) -> frozenset[str]:
    """Given a location's listing, return the ids of the snapshot files in it."""
    return frozenset(
        path[len(SNAPSHOT_PREFIX) :] for path in listing if path.startswith(SNAPSHOT_PREFIX)
    )


def take(
    restic: Restic, reached: reach.Reached, password: Secret, preference: tuple[str, ...]
) -> tuple[Inventory, reach.Reached]:
    """List the snapshots at every reachable location holding a repository (in parallel); return
    them and the locations with those restic could not list marked failed."""
    names = reached.with_config(preference)
    with concurrent.futures.ThreadPoolExecutor(max(1, len(names))) as pool:
        futures = {
            name: pool.submit(operations.snapshots, restic, reached.repository(name), password)
            for name in names
        }
    snapshots: dict[str, messages.Snapshot] = {}
    holders: dict[str, list[str]] = {}
    for name, future in futures.items():
        try:
            listed = future.result()
        except Exception as error:
            if not errors.is_expected(error):
                raise
            reached = reached.failed(name, str(error))
            continue
        for snapshot in listed:
            snapshots.setdefault(snapshot.id, snapshot)
            holders.setdefault(snapshot.id, []).append(name)
    return Inventory(snapshots, {sid: tuple(names) for sid, names in holders.items()}), reached


def group_of(snapshot: messages.Snapshot) -> str:
    """Given a snapshot, return the history it belongs to: its source tag, else (made by hand,
    not by backupctl) its host."""
    for tag in snapshot.tags:
        if tag.startswith("source:"):
            return tag.removeprefix("source:")
    return f"foreign:{snapshot.hostname}"


def facts(inventory: Inventory, recorded: Mapping[str, datetime.datetime]) -> list[SnapshotFacts]:
    """Given the inventory and the recorded times, return what the planner needs; a snapshot
    whose time restic cannot parse counts as made at its recorded time."""
    found = []
    for snapshot_id, snapshot in inventory.snapshots.items():
        when = recorded.get(snapshot_id)
        try:
            time = messages.parse_time(snapshot.time)
        except ValueError:
            logger.warning("snapshot %s: unreadable time %r", snapshot.short_id, snapshot.time)
            time = when or datetime.datetime.now(datetime.UTC)
        found.append(
            SnapshotFacts(snapshot_id, time, when, tuple(snapshot.tags), group_of(snapshot))
        )
    return found
