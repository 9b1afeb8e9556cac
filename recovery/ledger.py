"""The store-wide custody ledger: every event of every job, in the order recorded, hash-chained.

A job's own chain (``recovery/custody.py``) catches an event altered or removed inside it; the
ledger catches what the job's rows alone cannot: the last events of a job removed together with
its head digest moved back, and a job row deleted outright. Each entry's digest is SHA-256 of
the previous entry's digest and the entry (position, job id, sequence, event digest); the head
(position and digest of the last entry) is kept in its own table.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

GENESIS = "0" * 64


def entry_digest(previous: str, *, position: int, job_id: str, sequence: int, event: str) -> str:
    """Given the previous entry's digest and an entry, return the entry's digest."""
    content = json.dumps(
        {"position": position, "job_id": job_id, "sequence": sequence, "event_digest": event},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256((previous + content).encode("utf-8")).hexdigest()


def append(connection: sqlite3.Connection, job_id: str, sequence: int, event_digest: str) -> None:
    """Append an event to the ledger and move its head (inside the caller's transaction)."""
    head = connection.execute("SELECT position, digest FROM recovery_ledger_head").fetchone()
    position, previous = (head[0] + 1, head[1]) if head else (1, GENESIS)
    digest = entry_digest(
        previous, position=position, job_id=job_id, sequence=sequence, event=event_digest
    )
    connection.execute(
        "INSERT INTO recovery_ledger VALUES (?, ?, ?, ?, ?)",
        (position, job_id, sequence, event_digest, digest),
    )
    connection.execute(
        "INSERT OR REPLACE INTO recovery_ledger_head (id, position, digest) VALUES (1, ?, ?)",
        (position, digest),
    )


def adopt(connection: sqlite3.Connection, from_version: int) -> None:
    """On the upgrade to the ledger, enter the events recorded before it existed, as they are."""
    if from_version >= 2:
        return
    rows = connection.execute(
        "SELECT e.job_id, e.sequence, e.digest FROM recovery_custody_events e"
        " LEFT JOIN recovery_jobs j ON j.job_id = e.job_id"
        " ORDER BY j.opened_at, e.job_id, e.sequence"
    ).fetchall()
    for job_id, sequence, digest in rows:
        append(connection, job_id, sequence, digest)


def chain_problems(connection: sqlite3.Connection) -> list[str]:
    """Return what is wrong with the ledger itself: a gap, an altered entry, a moved head."""
    rows = connection.execute(
        "SELECT position, job_id, sequence, event_digest, digest FROM recovery_ledger"
        " ORDER BY position"
    ).fetchall()
    previous = GENESIS
    for expected, (position, job_id, sequence, event, digest) in enumerate(rows, start=1):
        if position != expected:
            return [f"ledger entry {expected} is missing: entries were removed"]
        recomputed = entry_digest(
            previous, position=position, job_id=job_id, sequence=sequence, event=event
        )
        if recomputed != digest:
            return [f"ledger entry {position} does not match its digest: it was altered"]
        previous = digest
    head = connection.execute("SELECT position, digest FROM recovery_ledger_head").fetchone()
    head = tuple(head) if head else (0, GENESIS)
    if head != (len(rows), previous):
        text = f"the ledger head says {head[0]} entries, the ledger holds {len(rows)}"
        return [text + ": entries were removed or added"]
    return []


def job_problems(
    connection: sqlite3.Connection, job_id: str, events: list[tuple[int, str]]
) -> list[str]:
    """Given a job's (sequence, digest) pairs, return how they disagree with the ledger."""
    recorded = [
        (row[0], row[1])
        for row in connection.execute(
            "SELECT sequence, event_digest FROM recovery_ledger WHERE job_id = ? ORDER BY position",
            (job_id,),
        )
    ]
    if recorded == events:
        return []
    if len(recorded) > len(events) and recorded[: len(events)] == events:
        text = (
            f"the ledger records {len(recorded)} events of job {job_id}, the job has {len(events)}"
        )
        return [text + ": events were removed from the end"]
    return [f"the events of job {job_id} differ from the ledger: they were altered or added"]


def missing_jobs(connection: sqlite3.Connection) -> list[str]:
    """Return the ids of jobs the ledger records as opened whose row is gone."""
    rows = connection.execute(
        "SELECT DISTINCT l.job_id FROM recovery_ledger l"
        " LEFT JOIN recovery_jobs j ON j.job_id = l.job_id WHERE j.job_id IS NULL"
        " ORDER BY l.job_id"
    ).fetchall()
    return [row[0] for row in rows]


def store_problems(connection: sqlite3.Connection) -> list[str]:
    """Return every store-wide problem: the ledger chain, and deleted or unrecorded job rows."""
    problems = chain_problems(connection)
    problems += [
        f"job {job_id} was deleted: the ledger records it but its row is missing"
        for job_id in missing_jobs(connection)
    ]
    unrecorded = connection.execute(
        "SELECT job_id FROM recovery_jobs WHERE job_id NOT IN (SELECT job_id FROM recovery_ledger)"
        " ORDER BY job_id"
    ).fetchall()
    problems += [
        f"job {row[0]} is not in the ledger: it was added behind the toolkit's back"
        for row in unrecorded
    ]
    return problems


def entries_after(
    connection: sqlite3.Connection, position: int, *, limit: int = 10_000
) -> list[tuple[int, str, int, str, str, str]]:
    """Given a ledger position, return the entries after it, oldest first, at most ``limit``: each
    (position, job id, sequence, event digest, event kind, actor). Nothing when the recovery
    tables do not exist yet (no job was ever opened)."""
    try:
        return connection.execute(
            "SELECT l.position, l.job_id, l.sequence, l.event_digest, e.kind, e.actor"
            " FROM recovery_ledger l JOIN recovery_custody_events e"
            " ON e.job_id = l.job_id AND e.sequence = l.sequence"
            " WHERE l.position > ? ORDER BY l.position LIMIT ?",
            (position, limit),
        ).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return []
        raise
