"""Bring every reachable location of a source to the files of its manifest, and say per location
whether it now holds them (the catch-up half of every backup and init run)."""

from __future__ import annotations

import dataclasses
import logging

from backupctl import reach
from backupctl.progress import Progress
from backupctl.replication import plan as planning
from backupctl.replication import sync
from backupctl.replication.manifest import Manifest
from backupctl.results import ForeignFile, LocationResult, failed_everywhere

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Replication:
    results: tuple[LocationResult, ...]  # one for every location of ``names`` (reachable or not)
    foreign: tuple[ForeignFile, ...]
    reached: reach.Reached  # the locations as listed after the copy


def replicate(
    reached: reach.Reached,
    manifest: Manifest,
    *,
    source: str,
    names: tuple[str, ...],
    progress: Progress,
    step: str = "replicate",
    skip: tuple[str, ...] = (),
) -> Replication:
    """Given reached locations and the manifest, copy what each lacks; return a result for every
    location in ``names`` (preferred origin first) but those in ``skip``. A location is ok only
    when, listed again, it holds every manifest file some location could supply."""
    reachable = tuple(name for name in names if name in reached.listings)
    listings = {name: reached.listings[name] for name in reachable}
    the_plan = planning.plan(manifest, listings, reachable)
    for foreign in the_plan.foreign:
        logger.warning(
            "location %s: foreign file %s (%d bytes): not written by backupctl; not copied",
            foreign.location,
            foreign.path,
            foreign.size,
        )
    try:
        sync.check_configs(reached.stores, listings)
    except sync.ConfigConflict as conflict:
        reported = [name for name in names if name not in skip]
        return Replication(
            failed_everywhere(
                source, reported, step, str(conflict), reasons=dict(reached.failures)
            ),
            the_plan.foreign,
            reached,
        )
    progress.replication_started(source, the_plan.total_bytes)
    try:
        report = sync.sync(
            reached.stores,
            the_plan,
            on_bytes=lambda count: progress.replication_bytes(source, count),
        )
    finally:
        progress.replication_finished(source)
    # only a location written to (or cleaned) can have changed since it was listed
    touched = {name for transfer in the_plan.transfers for name in transfer.destinations}
    touched |= {removal.location for removal in the_plan.removals}
    after = reached.relisted(name for name in reachable if name in touched)
    lost = the_plan.unavailable if all(name in reached.listings for name in names) else ()
    context = _Context(manifest, report, the_plan.unavailable, lost, source, step)
    return Replication(
        tuple(_result(after, name, context) for name in names if name not in skip),
        the_plan.foreign,
        after,
    )


@dataclasses.dataclass(frozen=True)
class _Context:
    manifest: Manifest
    report: sync.SyncReport
    unavailable: tuple[str, ...]  # manifest files no reachable location holds at its size
    lost: tuple[str, ...]  # manifest files no location holds intact (every location reached)
    source: str
    step: str


def _result(reached: reach.Reached, name: str, context: _Context) -> LocationResult:
    if name not in reached.listings:
        reason = reached.failures.get(name, "not reached")
        return LocationResult(context.source, name, context.step, ok=False, reason=reason)
    report = context.report
    destination = report.destinations.get(name, sync.DestinationReport())
    listing = reached.listings[name]
    lacking = set(report.unrecoverable) | set(context.lost)
    waiting = set(report.unrecoverable) | set(context.unavailable)
    missing = [
        path
        for path, size in context.manifest.files.items()
        if listing.get(path) != size and path not in waiting
    ]
    problems = []
    if destination.error:
        problems.append(f"write failed: {destination.error}")
    if missing:
        problems.append(f"{len(missing)} file(s) still missing after the copy")
    if lacking:
        problems.append(
            f"{len(lacking)} file(s) damaged or missing on every location: "
            f"{', '.join(sorted(lacking)[:3])}"
        )
    notes = list(problems)
    if destination.repaired:
        logger.warning(
            "location %s: replaced %d damaged file(s) with verified copies",
            name,
            len(destination.repaired),
        )
        notes.append(f"repaired {len(destination.repaired)} damaged file(s) from a verified copy")
    if destination.removed:
        notes.append(f"removed {len(destination.removed)} file(s) deleted by backupctl")
    damaged_here = [entry for entry in report.damaged_at_origin if entry.startswith(f"{name}:")]
    if damaged_here and not destination.repaired:
        notes.append(f"{len(damaged_here)} damaged file(s) found here")
    return LocationResult(
        context.source,
        name,
        context.step,
        ok=not problems,
        reason="; ".join(notes),
        bytes_added=destination.bytes_copied,
        files_copied=destination.files_copied,
    )
