"""Bring every reachable location of a source to the same repository files, and say per location
whether it now holds everything (the catch-up half of every backup and init run)."""

from __future__ import annotations

import logging

from backupctl import reach, state
from backupctl.progress import Progress
from backupctl.replication import plan as planning
from backupctl.replication import sync

logger = logging.getLogger(__name__)


def replicate(
    reached: reach.Reached, *, source: str, preference: tuple[str, ...], progress: Progress,
    step: str = "replicate", skip: tuple[str, ...] = (),
) -> list[state.LocationResult]:
    """Given reached locations, copy what each lacks; return a result for every reachable location
    not in ``skip``. A location is ok only when, listed again, it holds every file of the others."""
    transfers = planning.plan(reached.listings, preference)
    total = sum(max(size for _, size in t.holders) * len(t.lacking) for t in transfers)
    progress.replication_started(source, total)
    try:
        report = sync.sync(reached.stores, reached.listings, preference,
                           on_bytes=lambda count: progress.replication_bytes(source, count))
    except sync.ConfigConflict as conflict:
        return [state.LocationResult(source, name, step, ok=False, reason=str(conflict))
                for name in preference if name in reached.listings and name not in skip]
    finally:
        progress.replication_finished(source)
    expected = set().union(*reached.listings.values()) - set(report.unrecoverable)
    names = [name for name in preference if name in reached.listings and name not in skip]
    reach.relist(reached, names)
    return [_result(reached, report, name, source, step, expected) for name in names]


def _result(reached, report, name, source, step, expected) -> state.LocationResult:
    if name in reached.failures:
        return state.LocationResult(source, name, step, ok=False, reason=reached.failures[name])
    destination = report.destinations[name]
    missing = expected - set(reached.listings[name])
    problems = []
    if destination.error:
        problems.append(f"write failed: {destination.error}")
    if missing:
        problems.append(f"{len(missing)} file(s) still missing after the copy")
    if report.unrecoverable:
        problems.append(f"{len(report.unrecoverable)} file(s) damaged on every location that has "
                        f"them: {', '.join(report.unrecoverable[:3])}")
    notes = list(problems)
    if destination.repaired:
        logger.warning("location %s: replaced %d damaged file(s) with verified copies",
                       name, len(destination.repaired))
        notes.append(f"repaired {len(destination.repaired)} damaged file(s) from a verified copy")
    damaged_here = [entry for entry in report.damaged_at_origin if entry.startswith(f"{name}:")]
    if damaged_here and not destination.repaired:
        notes.append(f"{len(damaged_here)} damaged file(s) found here")
    return state.LocationResult(
        source, name, step, ok=not problems, reason="; ".join(notes),
        bytes_added=destination.bytes_copied, files_copied=destination.files_copied,
    )
