"""Judge a source's backups from what each location holds: pure, the clock is a parameter."""

from __future__ import annotations

import dataclasses
import datetime


@dataclasses.dataclass(frozen=True)
class LocationState:
    name: str
    offsite: bool
    reachable: bool
    reason: str = ""
    snapshot_ids: frozenset[str] = frozenset()
    newest: datetime.datetime | None = None
    oldest: datetime.datetime | None = None
    size_bytes: int = 0


def warnings_for(
    states: list[LocationState],
    *,
    schedule_hours: float,
    grace_hours: float,
    now: datetime.datetime,
) -> list[str]:
    """Given each location's state, return what an operator must look at, most serious first."""
    warnings = [f"location {s.name} unreachable: {s.reason}" for s in states if not s.reachable]
    every_snapshot = frozenset().union(*(s.snapshot_ids for s in states if s.reachable))
    for state in states:
        lacking = len(every_snapshot - state.snapshot_ids)
        if state.reachable and lacking:
            warnings.append(
                f"location {state.name} lacks {lacking} snapshot(s) the others have; "
                "the next backup copies them"
            )
    healthy = [
        s
        for s in states
        if s.reachable and s.newest is not None and s.snapshot_ids == every_snapshot
    ]
    if len(healthy) < 2:
        warnings.append(f"only {len(healthy)} healthy location(s) hold all backups; 2 are required")
    if not any(s.offsite for s in healthy):
        warnings.append("no healthy off-site location holds all backups")
    newest = max((s.newest for s in states if s.newest is not None), default=None)
    if newest is None:
        warnings.append("no backup yet")
    elif now - newest > datetime.timedelta(hours=schedule_hours + grace_hours):
        hours = (now - newest).total_seconds() / 3600
        warnings.append(f"newest backup is {hours:.1f}h old; schedule is every {schedule_hours:g}h")
    return warnings
