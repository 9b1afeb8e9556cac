"""Close a repair job with its outcome, and delete the workshop's copies when they are due.

``close`` records the outcome and the date after which the copies go (``recovery.closeout``);
``purge`` (run from a timer, daily) deletes the copies of every closed job whose date has
passed, exactly the paths the job's custody record names (``recovery.purge``), and records a
``copies.destroyed`` event with what, where, sizes, hashes and when. One job failing never
stops the others; a job whose copies could not all be deleted is tried again on the next run.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging

from backupctl.errors import ExitCode
from recovery import closeout, purge
from recovery.jobs import Job, JobStore

logger = logging.getLogger(__name__)
OUTCOMES = tuple(closeout.OUTCOMES)


@dataclasses.dataclass(frozen=True)
class Due:
    """A closed job whose copies are due for deletion, and the copies its record names."""

    job_id: str
    due: str
    copies: tuple[closeout.Copy, ...]


@dataclasses.dataclass(frozen=True)
class Purged:
    job_id: str
    due: str
    outcomes: tuple[purge.Outcome, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(outcome.ok for outcome in self.outcomes)

    def to_dict(self) -> dict:
        return {
            "job_id": self.job_id,
            "due": self.due,
            "items": [outcome.to_dict() for outcome in self.outcomes],
            "error": self.error,
        }


def kept_days(configured: int | None) -> int:
    """Given the configured ``job_copies_days`` (None without a config file), return the days."""
    return closeout.DEFAULT_KEPT_DAYS if configured is None else configured


def now_or(as_of: str | None) -> datetime.datetime:
    """Given ``--as-of`` (ISO-8601, or None for now), return the time to act at (aware, UTC)."""
    if as_of is None:
        return datetime.datetime.now(datetime.UTC)
    return closeout.parse_time(as_of)


def close(store: JobStore, job_id: str, *, outcome: str, days: int, actor: str, host: str) -> Job:
    """Close an open job with its outcome; raise InvalidRequest for an unknown outcome,
    JobClosedError when it is closed already."""
    closeout.check_outcome(outcome)
    closeout.check_kept_days(days)
    return store.close(
        job_id,
        actor=actor,
        host=host,
        details=lambda at: closeout.close_details(outcome, closed_at=at, kept_days=days),
    )


def deletion(store: JobStore, job_id: str, *, days: int, now: datetime.datetime) -> str:
    """Return one sentence on when the job's copies are (or were) deleted."""
    return closeout.deletion_text(store.events(job_id), kept_days=days, now=now)


def plan(store: JobStore, *, days: int, now: datetime.datetime) -> list[Due]:
    """Return the closed jobs whose copies are due at ``now`` and not yet all deleted."""
    found = []
    for job in store.list():
        if job.status != "closed":
            continue
        events = store.events(job.job_id)
        when = closeout.due(events, kept_days=days)
        if when is None or when > now or closeout.completed_destruction(events):
            continue
        stamp = when.isoformat(timespec="seconds")
        found.append(Due(job.job_id, stamp, closeout.copies(events)))
    return found


def _purge_one(store: JobStore, item: Due, *, actor: str, host: str) -> Purged:
    verifies, explanation = store.verify_chain(item.job_id)
    if not verifies:  # the paths to delete come from the record: an altered one is not obeyed
        text = f"custody chain does not verify ({explanation}): nothing deleted"
        logger.error("job %s: %s", item.job_id, text)
        return Purged(item.job_id, item.due, (), error=text)
    outcomes = tuple(purge.destroy(copy) for copy in item.copies)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    details = {
        "due": item.due,
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "items": [outcome.to_dict() for outcome in outcomes],
        "failed": len(failed),
    }
    store.record_event(
        item.job_id, kind=closeout.DESTROYED, actor=actor, host=host, details=details
    )
    for outcome in failed:
        logger.warning("job %s: %s %s not deleted: %s", item.job_id, *_named(outcome))
    return Purged(item.job_id, item.due, outcomes)


def _named(outcome: purge.Outcome) -> tuple[str, str, str]:
    return outcome.what, outcome.path, outcome.result


def purge_due(
    store: JobStore, *, days: int, now: datetime.datetime, dry_run: bool, actor: str, host: str
) -> list[Purged | Due]:
    """Delete the copies of every due job (or, with ``dry_run``, return the plan unchanged)."""
    due = plan(store, days=days, now=now)
    if dry_run:
        return list(due)
    results: list[Purged | Due] = []
    for item in due:
        try:
            results.append(_purge_one(store, item, actor=actor, host=host))
        except Exception as error:  # one job never stops the others
            logger.error("job %s: purge failed: %s", item.job_id, error)
            results.append(Purged(item.job_id, item.due, (), error=str(error)))
    return results


def exit_code(results: list[Purged | Due]) -> int:
    """Return 0 when every due copy is gone (or this was a dry run), 1 when some are not."""
    failed = any(isinstance(result, Purged) and not result.ok for result in results)
    return ExitCode.PARTIAL if failed else ExitCode.OK
