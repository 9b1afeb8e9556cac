"""Each location's outcome of a rotation: what was forgotten, pruned, deleted and copied there,
and the proof, listed again after the run, that no forgotten snapshot is still present.

A location that still holds a forgotten snapshot fails loudly; a location that was down while
data was deleted is recorded as still holding expired data until a later run finishes there.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from collections.abc import Iterable, Mapping

from backupctl import reach, state
from backupctl.actions.replicate import Replication
from backupctl.replication.manifest import Manifest
from backupctl.results import LocationResult
from backupctl.rotation import inventory, lingering, records
from policies import rotation

logger = logging.getLogger(__name__)
SHOWN_IDS = 3


class Log:
    """The forget/prune events and failures of one source's rotation, by location (kept by the
    action while it runs, then read once to build the results)."""

    def __init__(self) -> None:
        self.notes: dict[str, list[str]] = {}
        self.failures: dict[str, str] = {}

    def add_events(self, events: Iterable[records.Event]) -> None:
        for event in events:
            if event.step == "forget":
                note = f"forgot {len(event.snapshot_ids)} snapshot(s)"
            else:
                note = f"prune {event.detail}"
            self.notes.setdefault(event.location, []).append(note)

    def fail(self, location: str, reason: str) -> None:
        logger.error("rotation at %s: %s", location, reason)
        self.failures[location] = reason


@dataclasses.dataclass(frozen=True)
class Check:
    db: pathlib.Path
    source: str
    run_id: int
    expired: frozenset[str]  # the snapshots this run's plan forgets
    deleted_before: Mapping[str, frozenset[str]]  # per location: deleted files there before
    changed: bool  # this run deleted something (or finished an earlier run's deletion)


def deleted_present(
    db: pathlib.Path, source: str, reached: reach.Reached
) -> dict[str, frozenset[str]]:
    """Given the listed locations, return the files the manifest marks deleted each holds."""
    manifest = state.load_manifest(db, source)
    if manifest is None:
        return {}
    return {
        name: frozenset(path for path in listing if path in manifest.deleted)
        for name, listing in reached.listings.items()
    }


def forgotten_still_present(
    listing: Mapping[str, int], deleted: frozenset[str], expired: frozenset[str]
) -> list[str]:
    """Given a location's listing, return the snapshots still there that rotation forgot."""
    return sorted(
        sid
        for sid in inventory.snapshot_ids(listing)
        if sid in expired or inventory.snapshot_path(sid) in deleted
    )


def check_locations(
    check: Check,
    final: reach.Reached,
    copied: Replication,
    log: Log,
    names: tuple[str, ...],
) -> tuple[tuple[LocationResult, ...], dict[str, str]]:
    """Given every location listed again after the run, return each one's result and the
    locations still holding data rotation deleted (also recorded, with every step's event)."""
    manifest = state.load_manifest(check.db, check.source)
    deleted = manifest.deleted if manifest is not None else frozenset()
    replicated = {result.location: result for result in copied.results}
    results, still_held = [], {}
    for name in names:
        result, held = _check_one(check, name, final, replicated[name], log, deleted)
        results.append(result)
        if held:
            still_held[name] = held
            records.still_held(check.db, check.source, name, run_id=check.run_id, reason=held)
        elif name in final.listings:
            records.caught_up(check.db, check.source, name)
    return tuple(results), still_held


def _check_one(check, name, final, replicated, log, deleted) -> tuple[LocationResult, str]:
    notes = list(log.notes.get(name, []))
    problems = [log.failures[name]] if name in log.failures else []
    if replicated.reason:
        (problems if not replicated.ok else notes).append(replicated.reason)
    if name not in final.listings:
        held = ""
        if check.changed or records_pending(check, name):
            held = "expired data still held: location not reached; a later run finishes here"
            problems.append(held)
        _event(check, name, "verify", False, detail=final.failures.get(name, "not reached"))
        return _result(check, name, replicated, notes, problems), held
    left = forgotten_still_present(final.listings[name], deleted, check.expired)
    removed = [p for p in check.deleted_before.get(name, ()) if p not in final.listings[name]]
    if removed:
        gone = tuple(sorted(inventory.snapshot_ids(dict.fromkeys(removed, 0))))
        _event(check, name, "delete", True, snapshot_ids=gone, files=len(removed))
    if replicated.files_copied:
        _event(check, name, "copy", True, files=replicated.files_copied)
    held = ""
    if left:
        shown = ", ".join(sid[:8] for sid in left[:SHOWN_IDS])
        held = f"expired data still held: {len(left)} forgotten snapshot(s) still here ({shown})"
        logger.error("source %s: location %s: %s", check.source, name, held)
        problems.append(held)
    _event(check, name, "verify", not left, snapshot_ids=tuple(left), detail=held)
    return _result(check, name, replicated, notes, problems), held


def records_pending(check: Check, name: str) -> bool:
    return any(row["location"] == name for row in records.pending(check.db, check.source))


def _event(check: Check, name: str, step: str, ok: bool, **fields) -> None:
    records.record_event(
        check.db, check.run_id, records.Event(check.source, name, step, ok, **fields)
    )


def _result(check, name, replicated, notes, problems) -> LocationResult:
    return LocationResult(
        check.source,
        name,
        "rotate",
        ok=not problems,
        reason="; ".join([*problems, *notes]),
        bytes_added=replicated.bytes_added,
        files_copied=replicated.files_copied,
    )


def planned_result(
    source: str,
    name: str,
    reached: reach.Reached,
    found: inventory.Inventory,
    the_plan: rotation.RotationPlan,
) -> LocationResult:
    """Given a dry run's plan, return what it would do at one location."""
    if name not in reached.listings:
        reason = reached.failures.get(name, "not reached")
        return LocationResult(source, name, "plan", ok=False, reason=reason)
    here = set(found.at(name))
    going = [sid for sid in the_plan.forget if sid in here]
    reason = f"would forget {len(going)} of {len(here)} snapshot(s) here"
    return LocationResult(source, name, "plan", ok=True, reason=reason)


def plan_warnings(the_plan: rotation.RotationPlan) -> tuple[str, ...]:
    """Given a plan, return what an operator must look at: snapshots dated in the future, and
    histories of which no snapshot remains (their newest is past the maximum age)."""
    warnings = tuple(
        f"snapshot {verdict.snapshot_id[:8]} is dated in the future: {verdict.reasons[0]}"
        for verdict in the_plan.verdicts
        if verdict.future and not verdict.held
    )
    groups = {verdict.group for verdict in the_plan.verdicts}
    kept = {verdict.group for verdict in the_plan.verdicts if verdict.keep}
    return warnings + tuple(
        f"no snapshot of {group} remains: even its newest is past the maximum age "
        "(no backup for that long?)"
        for group in sorted(groups - kept)
    )


def lingering_warnings(margin: lingering.Lingering) -> tuple[str, ...]:
    """Given how long deleted data lives on per location, return the locations where the
    maximum age cannot be kept, and the margin rotation applies."""
    warnings = tuple(f"location {name}: {problem}" for name, problem in margin.problems.items())
    if margin.margin_days:
        where = ", ".join(f"{name} {days}d" for name, days in margin.days.items())
        warnings += (
            f"rotation forgets {margin.margin_days} days before the maximum age: deleted data "
            f"lives on as noncurrent versions ({where})",
        )
    return warnings


def hand_made_forgotten(
    manifest: Manifest | None,
    found: inventory.Inventory,
    the_plan: rotation.RotationPlan,
    primary: str | None,
) -> tuple[str, ...]:
    """Given the manifest before rotation, return the locations other than the primary where a
    forgotten snapshot was not written by backupctl (its data is foreign there)."""
    live = manifest.files if manifest is not None else {}
    forgotten = set(the_plan.forget)
    names: set[str] = set()
    for snapshot_id, holders in found.holders.items():
        if snapshot_id in forgotten and inventory.snapshot_path(snapshot_id) not in live:
            names.update(name for name in holders if name != primary)
    return tuple(sorted(names))
