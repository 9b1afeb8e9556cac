"""Rotation's part in the customer lifecycle: destroy the sources of tenants whose cooling period
is over (docs/tenants.md), and record what was destroyed where, when, by which run, checked how.

The intent is recorded first (the tenant turns ``destroying``: no reinstatement any more, and a
run that dies half-way is finished by the next); then each source's repositories and keystore
entry go (``backupctl/tenants/destroy.py``); each location's outcome is recorded with an audit
record; when every source of the tenant is gone everywhere, the tenant turns ``destroyed`` and
the destruction record is complete.
"""

from __future__ import annotations

import datetime
import pathlib
from typing import TYPE_CHECKING

from backupctl import runlock, state
from backupctl.actions import audited
from backupctl.audit import log
from backupctl.config import Config, Source
from backupctl.results import LocationResult, SourceReport, source_failed
from backupctl.tenants import destroy, plan, states
from backupctl.tenants import store as tenant_store

if TYPE_CHECKING:
    from backupctl.keys.store import Keystore


def decide(config: Config, source: Source, *, now: datetime.datetime) -> plan.SourcePlan:
    """Given a source, return what rotation does with it at ``now`` (rotate, destroy, nothing)."""
    db = state.db_path(config.state_dir)
    standing = tenant_store.standing(db, source.tenant)
    done = tenant_store.destruction(db, source.tenant)
    erased = {key.source for key in tenant_store.erased_keys(db, source.tenant)}
    return plan.for_source(
        source.name,
        source.tenant,
        source.locations,
        standing,
        done,
        key_erased=source.name in erased,
        now=now,
    )


def planned(decided: plan.SourcePlan) -> SourceReport:
    """Given a destruction plan, return the report a dry run prints (nothing is touched)."""
    return SourceReport(
        decided.source,
        None,
        None,
        tuple(
            LocationResult(decided.source, name, "destroy", True, "would destroy the repository")
            for name in decided.locations
        ),
        (f"would destroy: {decided.reason}",),
    )


def gone(decided: plan.SourcePlan) -> SourceReport:
    """The report of a source destroyed at every location already (nothing to do), or whose
    destruction a legal hold suspended (nothing is touched)."""
    if decided.step is plan.Step.PAUSED:
        return SourceReport(decided.source, None, None, (), (decided.reason,))
    return SourceReport(
        decided.source,
        None,
        None,
        (),
        (f"{decided.reason}: nothing left to rotate; remove the source from the config",),
    )


def run(
    config: Config,
    keystore: Keystore,
    decided: plan.SourcePlan,
    *,
    run_id: int,
    actor: str,
    now: datetime.datetime,
) -> SourceReport:
    """Given a source due for destruction, destroy it at the locations still to do and record
    it; return its report (a location left unfinished fails, with why)."""
    db = state.db_path(config.state_dir)
    source = config.sources[decided.source]
    _begin(db, decided, run_id=run_id, actor=actor, now=now)
    try:
        outcome = destroy.destroy_source(config, keystore, source, decided.locations)
    except runlock.SourceBusy as busy:  # another run works on it: the next rotate destroys
        return source_failed(source.name, decided.locations, "destroy", str(busy))
    _record(db, decided, outcome, run_id=run_id, actor=actor)
    _finish_if_complete(config, decided.tenant, run_id=run_id, actor=actor, now=now)
    return SourceReport(
        source.name,
        None,
        None,
        tuple(_result(source.name, entry) for entry in outcome.locations),
        (
            *(
                f"location {entry.location}: still holds {source.name}'s data "
                f"({entry.remaining}); the next rotate tries again"
                for entry in outcome.locations
                if not entry.done
            ),
            *(() if outcome.key_gone else (f"keystore entry repo/{source.name} not erased yet",)),
        ),
    )


def _result(source: str, entry: destroy.LocationOutcome) -> LocationResult:
    if not entry.done:
        return LocationResult(source, entry.location, "destroy", False, entry.remaining)
    detail = (
        f"destroyed: {entry.removed} repository file(s) ({entry.bytes} bytes) and "
        f"{entry.leftovers} other entries removed; {entry.checked}"
    )
    return LocationResult(source, entry.location, "destroy", True, detail)


def _begin(
    db: pathlib.Path,
    decided: plan.SourcePlan,
    *,
    run_id: int,
    actor: str,
    now: datetime.datetime,
) -> None:
    """Record the tenant ``destroying`` (once) before anything is deleted: fail closed."""
    with audited.transaction(db) as connection:
        standing = tenant_store.standing_in(connection, decided.tenant)
        if standing.phase is not states.Phase.OFFBOARDED:
            return
        change = states.Change(
            states.Kind.DESTROYING, actor, now, standing.offboard.reason, run_id=run_id
        )
        states.check(standing, change, now=now)
        tenant_store.append_in(connection, decided.tenant, change)
        log.append_in(
            connection,
            log.Event(
                "tenant.destroy",
                actor,
                "started",
                {"tenant": decided.tenant},
                {"run": run_id, "effective": str(standing.effective), "reason": change.reason},
            ),
        )


def _record(
    db: pathlib.Path,
    decided: plan.SourcePlan,
    outcome: destroy.SourceOutcome,
    *,
    run_id: int,
    actor: str,
) -> None:
    now = state.utc_now()
    with audited.transaction(db) as connection:
        for entry in outcome.locations:
            tenant_store.record_location_in(
                connection,
                decided.tenant,
                tenant_store.LocationDestruction(
                    source=outcome.source,
                    location=entry.location,
                    started_at=now,
                    run_id=run_id,
                    finished_at=now if entry.done else None,
                    removed=entry.removed,
                    bytes=entry.bytes,
                    leftovers=entry.leftovers,
                    checked=entry.checked,
                    remaining=entry.remaining,
                ),
            )
        if outcome.key_gone:
            erased = tenant_store.ErasedKey(
                outcome.source, destroy.key_entry(outcome.source), now, run_id
            )
            tenant_store.record_erased_key_in(connection, decided.tenant, erased)
        log.append_in(
            connection,
            log.Event(
                "tenant.destroy",
                actor,
                "ok" if all(entry.done for entry in outcome.locations) else "warning",
                {"tenant": decided.tenant, "source": outcome.source},
                {
                    "run": run_id,
                    "key_erased_now": outcome.key_erased,
                    "restic_caches_removed": len(outcome.caches),
                    "locations": {
                        entry.location: {
                            "done": entry.done,
                            "files": entry.removed,
                            "bytes": entry.bytes,
                            "other_entries": entry.leftovers,
                        }
                        for entry in outcome.locations
                    },
                },
            ),
        )


def _finish_if_complete(
    config: Config, tenant: str, *, run_id: int, actor: str, now: datetime.datetime
) -> None:
    """Turn the tenant ``destroyed`` when every one of its sources is gone everywhere."""
    db = state.db_path(config.state_dir)
    sources = {s.name: s.locations for s in config.sources.values() if s.tenant == tenant}
    done = tenant_store.destruction(db, tenant)
    erased = [key.source for key in tenant_store.erased_keys(db, tenant)]
    if not plan.complete(sources, done, erased):
        return
    with audited.transaction(db) as connection:
        standing = tenant_store.standing_in(connection, tenant)
        if standing.phase is not states.Phase.DESTROYING:
            return
        change = states.Change(states.Kind.DESTROYED, actor, now, "complete", run_id=run_id)
        tenant_store.append_in(connection, tenant, change)
        log.append_in(
            connection,
            log.Event(
                "tenant.destroyed",
                actor,
                "ok",
                {"tenant": tenant},
                {
                    "run": run_id,
                    "sources": sorted(sources),
                    "locations": sorted({entry.location for entry in done}),
                    "files": sum(entry.removed for entry in done),
                    "bytes": sum(entry.bytes for entry in done),
                    "keystore_entries": len(erased),
                    "runs": sorted({entry.run_id for entry in done}),
                },
            ),
        )
