"""A tenant's state, replayed from its recorded changes: a pure state machine, the clock a
parameter.

Phases: ``active``; ``offboarded`` (from the effective date no backups and no restores; the
cooling period runs 90 days from that date); ``destroying`` (destruction began: some location
still holds data); ``destroyed``. Independent of the phase: legal holds (each with its
reference; while one stands nothing of the tenant is rotated or destroyed) and a suspension
(restores refused, backups go on). ``check`` says whether a change is allowed, with the reason
when not; ``replay`` folds the recorded changes into a ``Standing``.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Iterable

COOLING_DAYS = 90  # clauses 5.5 and 10.10
OFFBOARD_REASONS = ("cancellation", "non-payment")


class Phase(enum.StrEnum):
    ACTIVE = "active"
    OFFBOARDED = "offboarded"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"


class Kind(enum.StrEnum):
    OFFBOARD = "offboard"
    REINSTATE = "reinstate"
    HOLD = "hold"
    RELEASE = "release"
    SUSPEND = "suspend"
    RESUME = "resume"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"


@dataclasses.dataclass(frozen=True)
class Change:
    """One recorded change of a tenant's state."""

    kind: Kind
    actor: str
    at: datetime.datetime
    reason: str
    reference: str | None = None
    effective: datetime.date | None = None
    run_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Hold:
    reference: str
    reason: str
    actor: str
    at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Standing:
    """Where a tenant stands after its changes; ``history`` is every change, oldest first."""

    tenant: str
    phase: Phase = Phase.ACTIVE
    offboard: Change | None = None  # the standing offboarding (None once reinstated)
    holds: tuple[Hold, ...] = ()
    suspension: Change | None = None
    destroying: Change | None = None
    destroyed: Change | None = None
    history: tuple[Change, ...] = ()

    @property
    def effective(self) -> datetime.date | None:
        return self.offboard.effective if self.offboard else None

    @property
    def destruction_due(self) -> datetime.datetime | None:
        """The moment the cooling period ends: 90 days after the effective date (00:00 UTC)."""
        if self.effective is None:
            return None
        start = datetime.datetime.combine(self.effective, datetime.time(), datetime.UTC)
        return start + datetime.timedelta(days=COOLING_DAYS)

    @property
    def held(self) -> bool:
        return bool(self.holds)

    def offboarded_by(self, now: datetime.datetime) -> bool:
        """Return whether backups and restores have stopped at ``now`` (from the effective date,
        and for good once destruction began)."""
        if self.phase in (Phase.DESTROYING, Phase.DESTROYED):
            return True
        due = self.destruction_due
        return due is not None and now >= due - datetime.timedelta(days=COOLING_DAYS)

    def destruction_is_due(self, now: datetime.datetime) -> bool:
        """Return whether rotation must destroy the tenant's data at ``now``: the cooling
        period is over (or destruction began and is unfinished) and no legal hold stands."""
        if self.held or self.phase is Phase.DESTROYED:
            return False
        if self.phase is Phase.DESTROYING:
            return True
        due = self.destruction_due
        return self.phase is Phase.OFFBOARDED and due is not None and now >= due

    def restore_refusal(self, now: datetime.datetime) -> str | None:
        """Return why no restore of the tenant may run at ``now``, or None."""
        if self.phase is Phase.DESTROYED:
            return f"its data was destroyed ({_day(self.destroyed)})"
        if self.phase is Phase.DESTROYING:
            return "its data is being destroyed"
        if self.offboarded_by(now):
            return f"offboarded ({self.offboard.reason}) effective {self.effective}"
        if self.suspension is not None:
            return f"suspended since {_day(self.suspension)}"
        return None

    def backup_refusal(self, now: datetime.datetime) -> str | None:
        """Return why no new backup of the tenant's sources may be taken at ``now``, or None."""
        if self.phase in (Phase.DESTROYING, Phase.DESTROYED):
            return f"its data is {self.phase.value}"
        if self.offboarded_by(now):
            return (
                f"offboarded ({self.offboard.reason}) effective {self.effective}; "
                f"destruction due {self.destruction_due:%Y-%m-%d}"
            )
        return None


def _day(change: Change | None) -> str:
    return f"{change.at:%Y-%m-%d}" if change else "?"


class NotAllowed(Exception):
    """A change the tenant's state does not allow; the message says why."""


def check(standing: Standing, change: Change, *, now: datetime.datetime) -> None:
    """Given a tenant's standing and a change someone asks for, return when it is allowed;
    raise NotAllowed saying why not."""
    problem = _problem(standing, change, now)
    if problem:
        raise NotAllowed(f"tenant {standing.tenant}: {problem}")


def _problem(standing: Standing, change: Change, now: datetime.datetime) -> str | None:
    phase = standing.phase
    if phase is Phase.DESTROYED and change.kind is not Kind.DESTROYED:
        return f"its data was destroyed on {_day(standing.destroyed)}; nothing left to change"
    if change.kind is Kind.OFFBOARD:
        if change.reason not in OFFBOARD_REASONS:
            return f"the offboarding reason is one of {', '.join(OFFBOARD_REASONS)}"
        if phase is not Phase.ACTIVE:
            return f"already {phase.value} (effective {standing.effective})"
        return None
    if change.kind is Kind.REINSTATE:
        if phase is Phase.DESTROYING:
            return "destruction has begun; it cannot be undone"
        if phase is not Phase.OFFBOARDED:
            return "is not offboarded"
        return None
    if change.kind is Kind.HOLD:
        if any(hold.reference == change.reference for hold in standing.holds):
            return f"a legal hold with reference {change.reference} already stands"
        return None
    if change.kind is Kind.RELEASE:
        if not any(hold.reference == change.reference for hold in standing.holds):
            return f"no legal hold with reference {change.reference} stands"
        return None
    if change.kind is Kind.SUSPEND:
        return "is suspended already" if standing.suspension is not None else None
    if change.kind is Kind.RESUME:
        return "is not suspended" if standing.suspension is None else None
    if change.kind is Kind.DESTROYING:
        return None if standing.destruction_is_due(now) else "destruction is not due"
    return None if phase is Phase.DESTROYING else "destruction has not begun"


def apply(standing: Standing, change: Change) -> Standing:
    """Given a standing and a change (already checked, or recorded), return the new standing."""
    after = dataclasses.replace(standing, history=(*standing.history, change))
    kind = change.kind
    if kind is Kind.OFFBOARD:
        return dataclasses.replace(after, phase=Phase.OFFBOARDED, offboard=change)
    if kind is Kind.REINSTATE:
        return dataclasses.replace(after, phase=Phase.ACTIVE, offboard=None)
    if kind is Kind.HOLD:
        hold = Hold(change.reference or "", change.reason, change.actor, change.at)
        return dataclasses.replace(after, holds=(*standing.holds, hold))
    if kind is Kind.RELEASE:
        kept = tuple(hold for hold in standing.holds if hold.reference != change.reference)
        return dataclasses.replace(after, holds=kept)
    if kind is Kind.SUSPEND:
        return dataclasses.replace(after, suspension=change)
    if kind is Kind.RESUME:
        return dataclasses.replace(after, suspension=None)
    if kind is Kind.DESTROYING:
        return dataclasses.replace(after, phase=Phase.DESTROYING, destroying=change)
    return dataclasses.replace(after, phase=Phase.DESTROYED, destroyed=change)


def replay(tenant: str, changes: Iterable[Change]) -> Standing:
    """Given a tenant and its recorded changes (oldest first), return where it stands."""
    standing = Standing(tenant)
    for change in changes:
        standing = apply(standing, change)
    return standing
