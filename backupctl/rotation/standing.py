"""How a source stands against its maximum age, per location, for ``status``: the oldest
snapshot each location holds (aged from the older of restic's and the recorded time), how many
are past the maximum age, locations recorded as still holding data rotation deleted, and a
rotation left unfinished."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import Mapping

from backupctl.restic import messages
from backupctl.rotation import records
from policies.retention import RetentionPolicy

DAY_SECONDS = 86400.0


@dataclasses.dataclass(frozen=True)
class LocationAge:
    location: str
    oldest_age_days: float | None  # None: no snapshot there (or not listed)
    expired: int  # snapshots older than the maximum age


@dataclasses.dataclass(frozen=True)
class Standing:
    policy: str
    max_age_days: int
    locations: tuple[LocationAge, ...]
    warnings: tuple[str, ...]


def standing(
    db: pathlib.Path,
    source: str,
    policy: RetentionPolicy,
    found: Mapping[str, list[messages.Snapshot]],
    *,
    now: datetime.datetime,
) -> Standing:
    """Given the snapshots listed at each location, return how the source stands against its
    policy's maximum age, with what an operator must look at."""
    recorded = records.recorded_times(db, source, {s.id for snaps in found.values() for s in snaps})
    ages = []
    warnings = []
    for location, snapshots in found.items():
        days = [_age(snapshot, recorded.get(snapshot.id), now) for snapshot in snapshots]
        expired = sum(1 for age in days if age > policy.max_age_days)
        ages.append(LocationAge(location, max(days, default=None), expired))
        if expired:
            warnings.append(
                f"location {location} holds {expired} snapshot(s) older than the maximum age "
                f"({max(days):.0f} > {policy.max_age_days} days, policy {policy.name}): "
                "expired data still held; run `backupctl rotate`"
            )
    for row in records.pending(db, source):
        warnings.append(
            f"location {row['location']}: expired data still held since {row['since']} "
            f"(rotate run {row['run_id']}): {row['reason']}"
        )
    intent = records.unfinished(db, source)
    if intent is not None:
        warnings.append(
            f"rotation of run {intent.run_id} unfinished at {intent.location} (stage "
            f"{intent.stage}); the next `backupctl rotate` finishes it"
        )
    return Standing(policy.name, policy.max_age_days, tuple(ages), tuple(warnings))


def _age(snapshot: messages.Snapshot, recorded: datetime.datetime | None, now) -> float:
    moment = messages.parse_time(snapshot.time)
    if recorded is not None:
        moment = min(moment, recorded)
    return (now - moment).total_seconds() / DAY_SECONDS
