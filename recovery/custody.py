"""Custody events and their hash chain: pure values and pure checks, no storage.

Every step of a repair job is a custody event: what happened (``kind``), who did it, when, from
which host, and details. Each event's digest is the SHA-256 of the previous event's digest
followed by the event's own canonical content, so altering, reordering or removing an earlier
event breaks every digest after it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Sequence

GENESIS = "0" * 64  # the "previous digest" of a job's first event

# Kinds the toolkit records; other parts may add their own (imaging records image.*).
JOB_OPENED = "job.opened"
MEDIUM_ATTACHED = "medium.attached"
NOTE_ADDED = "note.added"
JOB_CLOSED = "job.closed"
# What may still be recorded on a closed job: the destruction of the workshop's copies, a report.
AFTER_CLOSE_KINDS = frozenset({"copies.destroyed", "report.written"})


@dataclasses.dataclass(frozen=True)
class CustodyEvent:
    sequence: int
    job_id: str
    kind: str
    actor: str
    host: str
    at: str  # ISO-8601, UTC
    details: dict
    digest: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def utc_now() -> str:
    """Return the current time as ISO-8601 UTC with second precision."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def canonical_content(
    *, job_id: str, sequence: int, kind: str, actor: str, host: str, at: str, details: dict
) -> str:
    """Given an event's fields, return its canonical JSON text (sorted keys, no spaces)."""
    content = {
        "job_id": job_id,
        "sequence": sequence,
        "kind": kind,
        "actor": actor,
        "host": host,
        "at": at,
        "details": details,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_digest(previous_digest: str, content: str) -> str:
    """Given the previous digest and an event's canonical content, return the event's digest."""
    return hashlib.sha256((previous_digest + content).encode("utf-8")).hexdigest()


def digest_of(event: CustodyEvent, previous_digest: str) -> str:
    """Given an event and the digest before it, return the digest the event should carry."""
    content = canonical_content(
        job_id=event.job_id,
        sequence=event.sequence,
        kind=event.kind,
        actor=event.actor,
        host=event.host,
        at=event.at,
        details=event.details,
    )
    return chain_digest(previous_digest, content)


def verify(events: Sequence[CustodyEvent], *, head_digest: str | None = None) -> tuple[bool, str]:
    """Given a job's events in order, return (verifies, explanation).

    The chain verifies when sequences run 1, 2, 3 … without a gap, every digest matches the
    recomputed one, and (when ``head_digest`` is given) the last digest equals the head the job
    record keeps, which catches events removed from the end.
    """
    previous = GENESIS
    for expected_sequence, event in enumerate(events, start=1):
        if event.sequence != expected_sequence:
            return False, f"event {expected_sequence} is missing (found {event.sequence})"
        if digest_of(event, previous) != event.digest:
            return (
                False,
                f"event {event.sequence} ({event.kind}) does not match its digest: it was altered",
            )
        previous = event.digest
    if not events:
        return False, "the job has no custody events"
    if head_digest is not None and head_digest != previous:
        return (
            False,
            "the last event does not match the job's head digest: events were removed or added",
        )
    return True, f"custody chain of {len(events)} events verifies"
