"""Repair jobs: open one with consent, attach the customer's medium, note, show and list.

The logic between the CLI and ``recovery.jobs``: the store lives in the state database, job
folders under ``<state dir>/jobs``, and attaching a system device needs an explicit flag. The
command modules call only these functions (never the store or ``recovery`` directly).
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib

from recovery import custody, custody_text, errors, udev_source
from recovery.devices import describe_size
from recovery.jobs import CustodyEvent, Job, JobStore, Medium

__all__ = ["Job", "JobReport", "JobStore", "describe_size"]

logger = logging.getLogger(__name__)
FREE_TEXT_MAX = 2000


@dataclasses.dataclass(frozen=True)
class JobReport:
    """A job with its custody events and whether their chain verifies."""

    job: Job
    events: tuple[CustodyEvent, ...]
    verifies: bool
    explanation: str

    def to_dict(self) -> dict:
        return {
            **self.job.to_dict(),
            "events": [
                {**event.to_dict(), "text": custody_text.describe(event)} for event in self.events
            ],
            "chain": {"verifies": self.verifies, "explanation": self.explanation},
        }


@dataclasses.dataclass(frozen=True)
class JobList:
    """The jobs, and what store-wide verification found wrong (deleted rows, a broken ledger)."""

    jobs: tuple[Job, ...]
    problems: tuple[str, ...]


def store(*, state_dir: pathlib.Path, state_db: pathlib.Path) -> JobStore:
    """Return the job store in the state database; job folders go under ``<state dir>/jobs``."""
    return JobStore(state_db, state_dir / "jobs")


def open_job(
    job_store: JobStore,
    *,
    customer: str,
    consent_ref: str,
    ticket: str | None,
    note: str | None,
    actor: str,
    host: str,
) -> Job:
    """Open a job; raise RefusedError without consent, InvalidRequest for malformed fields."""
    return job_store.open_job(
        customer=customer, consent_ref=consent_ref, ticket=ticket, note=note, actor=actor, host=host
    )


def add_note(job_store: JobStore, job_id: str, text: str, *, actor: str, host: str) -> int:
    """Record a note on an open job; return the event's sequence number."""
    if len(text) > FREE_TEXT_MAX:
        raise errors.InvalidRequest(f"a note is longer than {FREE_TEXT_MAX} characters")
    event = job_store.record_event(
        job_id, kind=custody.NOTE_ADDED, actor=actor, host=host, details={"text": text}
    )
    return event.sequence


def attach_device(
    job_store: JobStore,
    job_id: str,
    node: str,
    *,
    state_dir: pathlib.Path,
    allow_system: bool,
    actor: str,
    host: str,
) -> Job:
    """Describe the device at ``node`` and record its identity on the job.

    Raise RefusedError for a system device (mounted, swap, the toolkit's state) unless
    ``allow_system``; the custody event records the reasons and that the technician insisted.
    """
    job_store.get(job_id)  # an unknown job fails before the device is looked at
    device = udev_source.describe(node, state_paths=(str(state_dir),))
    if device.is_system and not allow_system:
        raise errors.RefusedError(
            f"{device.node} is a system device ({'; '.join(device.system_reasons)}); "
            "repair jobs take customer media only (use --allow-system-device to insist)"
        )
    if device.is_system:
        logger.warning("attaching system device %s at the technician's insistence", device.node)
    details = {
        "bus": device.bus,
        "vendor": device.vendor,
        "removable": device.removable,
        "read_only": device.read_only,
        "system_device": device.is_system,
        "system_reasons": list(device.system_reasons),
        "allowed_system_device": allow_system and device.is_system,
    }
    return job_store.attach(
        job_id, Medium.from_device(device), actor=actor, host=host, details=details
    )


def report(job_store: JobStore, job_id: str) -> JobReport:
    """Return the job, its events and the verdict on its custody chain."""
    job = job_store.get(job_id)
    verifies, explanation = job_store.verify_chain(job_id)
    return JobReport(job, tuple(job_store.events(job_id)), verifies, explanation)


def describe_event(event: CustodyEvent) -> str:
    """Given a custody event, return what happened as one readable line (untrusted text inside:
    escape it for the terminal)."""
    return custody_text.describe(event)


def require_verified(job_report: JobReport) -> None:
    """Raise CustodyBrokenError (exit 3) when the report's chain does not verify."""
    if not job_report.verifies:
        raise errors.CustodyBrokenError(
            f"custody chain of job {job_report.job.job_id} does not verify:"
            f" {job_report.explanation}"
        )


def list_jobs(job_store: JobStore, *, open_only: bool) -> JobList:
    """Return the jobs (oldest first) and the store-wide problems found verifying them."""
    return JobList(tuple(job_store.list(open_only=open_only)), tuple(job_store.store_problems()))


def require_intact(job_list: JobList) -> None:
    """Raise CustodyBrokenError (exit 3) when store-wide verification found problems."""
    if job_list.problems:
        raise errors.CustodyBrokenError(
            "the custody record does not verify: " + "; ".join(job_list.problems)
        )


def waiting_for_medium(job_store: JobStore) -> list[Job]:
    """Return the open jobs that have no medium attached yet."""
    return [job for job in job_store.list(open_only=True) if job.medium is None]
