"""What rotation does with each source, given its tenant's standing: rotate it, destroy it, or
leave it (destroyed already). Pure: standings, destruction records and the clock are parameters.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Iterable, Mapping

from backupctl.tenants import states
from backupctl.tenants.store import LocationDestruction


class Step(enum.StrEnum):
    ROTATE = "rotate"  # ordinary rotation (held tenants: everything kept, through holds_for)
    DESTROY = "destroy"  # delete the repository at every location not yet done, and its key
    GONE = "gone"  # destroyed at every location already: nothing to do
    PAUSED = "paused"  # destruction begun, then a legal hold: nothing is touched


@dataclasses.dataclass(frozen=True)
class SourcePlan:
    source: str
    tenant: str
    step: Step
    locations: tuple[str, ...]  # DESTROY: the locations still to do
    reason: str


def for_source(
    source: str,
    tenant: str,
    locations: tuple[str, ...],
    standing: states.Standing,
    done: Iterable[LocationDestruction],
    *,
    key_erased: bool = False,
    now: datetime.datetime,
) -> SourcePlan:
    """Given a source, its locations, its tenant's standing, the destruction records of the
    tenant and whether the source's keystore entry is erased, return what rotation does with it
    at ``now`` (a source finished everywhere but whose key is still there is destroyed again:
    its locations are checked once more and the key erased)."""
    if standing.phase is states.Phase.DESTROYED:
        return SourcePlan(source, tenant, Step.GONE, (), f"tenant {tenant} destroyed")
    if standing.phase is states.Phase.DESTROYING and standing.held:
        references = ", ".join(hold.reference for hold in standing.holds)
        return SourcePlan(
            source,
            tenant,
            Step.PAUSED,
            (),
            f"tenant {tenant}: destruction begun, suspended by legal hold ({references})",
        )
    if not standing.destruction_is_due(now):
        why = (
            f"tenant {tenant} under legal hold ({', '.join(h.reference for h in standing.holds)})"
            if standing.held
            else ""
        )
        return SourcePlan(source, tenant, Step.ROTATE, (), why)
    finished = {entry.location for entry in done if entry.source == source and entry.finished_at}
    left = tuple(name for name in locations if name not in finished)
    if not left and key_erased:
        return SourcePlan(source, tenant, Step.GONE, (), "destroyed at every location")
    due = standing.destruction_due
    return SourcePlan(
        source,
        tenant,
        Step.DESTROY,
        left,
        f"tenant {tenant} offboarded effective {standing.effective}; cooling ended {due:%Y-%m-%d}"
        if due
        else f"tenant {tenant} destruction unfinished",
    )


def complete(
    sources: Mapping[str, tuple[str, ...]],
    done: Iterable[LocationDestruction],
    erased: Iterable[str],
) -> bool:
    """Given a tenant's sources with their locations, its destruction records and the sources
    whose keystore entry is erased, return whether destruction is complete everywhere."""
    finished = {(entry.source, entry.location) for entry in done if entry.finished_at}
    erased_sources = set(erased)
    return all(
        source in erased_sources and all((source, name) in finished for name in names)
        for source, names in sources.items()
    )


def pending(done: Iterable[LocationDestruction]) -> list[LocationDestruction]:
    """Return the locations where destruction began and is not finished."""
    return [entry for entry in done if not entry.finished_at]
