"""Suspicious patterns in the audit log (statement 7.2, 11.8): pure, over records, clock-free.

| alert | records |
| --- | --- |
| ``refused`` | any record with outcome ``refused`` (a command someone lacked the role for) |
| ``denied`` / ``expired`` | ``restore.deny``, ``restore.expired`` |
| ``break-glass`` | ``restore.break_glass`` |
| ``off-hours`` | ``restore.run`` or ``browse`` outside office hours (UTC, weekdays) |
| ``many-restores`` | more than ``burst`` ``restore.run`` by one person within ``window`` |
| ``foreign-files`` | ``location.foreign_files``: files at a location backupctl did not write |
| ``failed`` | ``backup.run``, ``init.run``, ``verify.run``, ``check.run``, ``drill.run``,
  ``rotate.*`` that failed (a scheduled job's own action alerts; ``schedule.run`` would repeat it) |
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
from collections.abc import Iterable

from backupctl.audit.log import Record


@dataclasses.dataclass(frozen=True)
class Rules:
    office_start: int = 7  # hour, UTC
    office_end: int = 19
    burst: int = 5  # restores by one person ...
    window: datetime.timedelta = datetime.timedelta(hours=24)  # ... within this long


@dataclasses.dataclass(frozen=True)
class Alert:
    kind: str
    seq: int
    at: str
    actor: str
    text: str


SIMPLE = {
    "restore.deny": ("denied", "restore request denied"),
    "restore.expired": ("expired", "restore request expired unapproved"),
    "restore.break_glass": ("break-glass", "restore without approval (break glass)"),
    "location.foreign_files": ("foreign-files", "files found that backupctl did not write"),
}
WATCHED_RUNS = ("backup.run", "init.run", "verify.run", "check.run", "drill.run")
VIEWING = ("restore.run", "browse")


def find(records: Iterable[Record], rules: Rules = Rules()) -> list[Alert]:
    """Given records in order and the rules, return the alerts, in record order."""
    found: list[Alert] = []
    recent: dict[str, collections.deque[datetime.datetime]] = collections.defaultdict(
        collections.deque
    )
    for record in records:
        found += _simple(record)
        if record.action in VIEWING and record.outcome == "ok":
            moment = datetime.datetime.fromisoformat(record.at).astimezone(datetime.UTC)
            if not _office_hours(moment, rules):
                found.append(
                    _alert("off-hours", record, f"{record.action} at {moment:%a %H:%M} UTC")
                )
            if record.action == "restore.run":
                found += _burst(recent[record.actor], moment, record, rules)
    return found


def _simple(record: Record) -> list[Alert]:
    if record.outcome == "refused":
        reason = record.details.get("reason") or "refused"
        return [_alert("refused", record, f"{record.action}: {reason}")]
    if record.action in SIMPLE:
        kind, text = SIMPLE[record.action]
        subjects = ", ".join(f"{key} {value}" for key, value in sorted(record.subjects.items()))
        return [_alert(kind, record, f"{text} ({subjects})" if subjects else text)]
    failed_run = record.action in WATCHED_RUNS or record.action.startswith("rotate.")
    if failed_run and record.outcome == "failed":
        return [_alert("failed", record, f"{record.action} failed")]
    return []


def _office_hours(moment: datetime.datetime, rules: Rules) -> bool:
    return moment.weekday() < 5 and rules.office_start <= moment.hour < rules.office_end


def _burst(
    times: collections.deque[datetime.datetime],
    moment: datetime.datetime,
    record: Record,
    rules: Rules,
) -> list[Alert]:
    times.append(moment)
    while times and moment - times[0] > rules.window:
        times.popleft()
    if len(times) == rules.burst + 1:  # once per burst, when it is crossed
        hours = rules.window.total_seconds() / 3600
        return [_alert("many-restores", record, f"{len(times)} restores within {hours:g} h")]
    return []


def _alert(kind: str, record: Record, text: str) -> Alert:
    return Alert(kind, record.seq, record.at, record.actor, text)
