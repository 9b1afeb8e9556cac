"""Which snapshots rotation keeps and which it forgets, and why: one pure function.

The age of a snapshot counts from the *older* of restic's snapshot time and the time backupctl
recorded when it took or first saw the snapshot: a forged old time never keeps data longer, a
forged new time cannot make old data look young. Nothing older than the policy's maximum age is
kept unless held; within it the keep rules (restic's ``forget`` semantics: the newest snapshot of
each of the N newest hours/days/weeks/months/years, in UTC) choose the history, and the newest
snapshot is always kept. A snapshot dated in the future is reported, kept until it ages out from
its recorded time, and takes no place in any keep rule, so it never pushes others out. The
decision does not depend on the order of its input.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterable

from policies.retention import RetentionPolicy

DAY_SECONDS = 86400.0


@dataclasses.dataclass(frozen=True)
class SnapshotFacts:
    """What the planner knows of one snapshot; ``group``: the history it belongs to (a source
    name, or a label for snapshots backupctl did not take)."""

    id: str
    time: datetime.datetime  # restic's snapshot time (aware)
    recorded: datetime.datetime | None  # when backupctl took or first saw it (aware)
    tags: tuple[str, ...] = ()
    group: str = ""

    @property
    def aged_from(self) -> datetime.datetime:
        """The moment its age counts from: the older of the two times."""
        return self.time if self.recorded is None else min(self.time, self.recorded)


@dataclasses.dataclass(frozen=True)
class Hold:
    """A hold that suspends rotation (a legal hold, clause 2.5): by tenant, group or snapshot,
    or ``everything`` given to the planner (a legal hold on the tenant whose repository it is)."""

    reason: str
    tenant: str | None = None
    group: str | None = None
    snapshot_id: str | None = None
    everything: bool = False

    def covers(self, snapshot: SnapshotFacts) -> bool:
        return (
            self.everything
            or (self.tenant is not None and f"tenant:{self.tenant}" in snapshot.tags)
            or (self.group is not None and self.group == snapshot.group)
            or (self.snapshot_id is not None and self.snapshot_id == snapshot.id)
        )


@dataclasses.dataclass(frozen=True)
class Verdict:
    snapshot_id: str
    group: str
    keep: bool
    reasons: tuple[str, ...]
    age_days: float
    future: bool = False
    held: bool = False


@dataclasses.dataclass(frozen=True)
class RotationPlan:
    policy: str
    now: datetime.datetime
    cut_days: float  # the age past which nothing is kept (max age less any margin)
    verdicts: tuple[Verdict, ...]  # newest first

    @property
    def forget(self) -> tuple[str, ...]:
        return tuple(v.snapshot_id for v in self.verdicts if not v.keep)

    @property
    def keep(self) -> tuple[str, ...]:
        return tuple(v.snapshot_id for v in self.verdicts if v.keep)

    @property
    def future(self) -> tuple[str, ...]:
        return tuple(v.snapshot_id for v in self.verdicts if v.future)


def _hour(moment: datetime.datetime) -> tuple:
    return (moment.year, moment.month, moment.day, moment.hour)


def _day(moment: datetime.datetime) -> tuple:
    return (moment.year, moment.month, moment.day)


def _week(moment: datetime.datetime) -> tuple:
    calendar = moment.isocalendar()
    return (calendar.year, calendar.week)


def _month(moment: datetime.datetime) -> tuple:
    return (moment.year, moment.month)


def _year(moment: datetime.datetime) -> tuple:
    return (moment.year,)


BUCKETS: dict[str, tuple[str, Callable[[datetime.datetime], tuple]]] = {
    "keep_hourly": ("hourly", _hour),
    "keep_daily": ("daily", _day),
    "keep_weekly": ("weekly", _week),
    "keep_monthly": ("monthly", _month),
    "keep_yearly": ("yearly", _year),
}


def plan(
    snapshots: Iterable[SnapshotFacts],
    policy: RetentionPolicy,
    *,
    holds: Iterable[Hold] = (),
    now: datetime.datetime,
    margin_days: float = 0.0,
) -> RotationPlan:
    """Given snapshots, a policy, holds and the current time, return keep or forget with reasons
    for every snapshot. ``margin_days`` forgets that much earlier than the maximum age (for
    storage that keeps deleted data a while longer); raise ValueError for a naive ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    cut = policy.max_age_days - max(0.0, margin_days)
    held = _HoldIndex(tuple(holds))
    now_seconds = now.timestamp()
    # newest first; float seconds sort much faster than datetimes; ties are broken by id
    decorated = sorted(((s.aged_from.timestamp(), s.id, s) for s in snapshots), reverse=True)
    ages = {key: (now_seconds - seconds) / DAY_SECONDS for seconds, key, _ in decorated}
    reasons: dict[str, list[str]] = {}
    groups: dict[str, list[SnapshotFacts]] = {}
    for _, key, snapshot in decorated:
        if snapshot.time > now:
            reasons[key] = [
                f"dated in the future ({snapshot.time.isoformat()}); counts for no keep rule"
            ]
        elif ages[key] <= cut:
            groups.setdefault(snapshot.group, []).append(snapshot)
    for members in groups.values():
        _apply_rules(members, policy, reasons)
    limit = f"{policy.max_age_days} days"
    if cut < policy.max_age_days:
        limit += f" less {policy.max_age_days - cut:g} days margin"
    verdicts = tuple(
        _verdict(s, ages[key], limit, held.reasons(s), cut, now, reasons.get(key, ()))
        for _, key, s in decorated
    )
    return RotationPlan(policy.name, now, cut, verdicts)


class _HoldIndex:
    """The holds, looked up by tenant tag, group and snapshot id (one dict lookup each)."""

    def __init__(self, holds: tuple[Hold, ...]) -> None:
        self.by_tag: dict[str, list[str]] = {}
        self.by_group: dict[str, list[str]] = {}
        self.by_id: dict[str, list[str]] = {}
        self.always = [hold.reason for hold in holds if hold.everything]
        for hold in holds:
            if hold.tenant is not None:
                self.by_tag.setdefault(f"tenant:{hold.tenant}", []).append(hold.reason)
            if hold.group is not None:
                self.by_group.setdefault(hold.group, []).append(hold.reason)
            if hold.snapshot_id is not None:
                self.by_id.setdefault(hold.snapshot_id, []).append(hold.reason)
        self.empty = not holds
        self._by_tags: dict[tuple[str, ...], list[str]] = {}  # many snapshots share their tags

    def reasons(self, snapshot: SnapshotFacts) -> list[str]:
        if self.empty:
            return []
        found = self._by_tags.get(snapshot.tags)
        if found is None:
            found = [reason for tag in snapshot.tags for reason in self.by_tag.get(tag, ())]
            self._by_tags[snapshot.tags] = found
        if not (self.by_group or self.by_id or self.always):
            return found
        found = found + self.by_group.get(snapshot.group, [])
        found += self.by_id.get(snapshot.id, [])
        return list(dict.fromkeys(found + self.always))


def _apply_rules(
    members: list[SnapshotFacts], policy: RetentionPolicy, reasons: dict[str, list[str]]
) -> None:
    """Given one group's snapshots within the maximum age (newest first), add the reason of each
    keep rule that keeps one."""
    reasons.setdefault(members[0].id, []).append("newest within the maximum age")
    for snapshot in members[: policy.keep_last]:
        reasons.setdefault(snapshot.id, []).append(f"last {policy.keep_last}")
    for rule, (label, bucket_of) in BUCKETS.items():
        wanted = getattr(policy, rule)
        seen: tuple | None = None
        count = 0
        for snapshot in members:
            if count >= wanted:
                break
            bucket = bucket_of(snapshot.aged_from.astimezone(datetime.UTC))
            if bucket != seen:
                seen = bucket
                count += 1
                reasons.setdefault(snapshot.id, []).append(f"{label} {count}/{wanted}")


def _verdict(snapshot, age: float, limit: str, held: list[str], cut, now, reasons) -> Verdict:
    """Given one snapshot, its age, holds and the reasons rules gave, return its verdict."""
    future = snapshot.time > now
    if held:
        return Verdict(
            snapshot.id,
            snapshot.group,
            True,
            (*(f"held: {reason}" for reason in held), *reasons),
            age,
            future,
            held=True,
        )
    if age > cut:
        return Verdict(
            snapshot.id,
            snapshot.group,
            False,
            (*reasons, f"older than the maximum age ({age:.1f} days > {limit})"),
            age,
            future,
        )
    if future:
        return Verdict(snapshot.id, snapshot.group, True, tuple(reasons), age, future)
    if reasons:
        return Verdict(snapshot.id, snapshot.group, True, tuple(reasons), age)
    return Verdict(snapshot.id, snapshot.group, False, ("kept by no keep rule",), age)
