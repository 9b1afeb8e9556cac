"""Append records to the audit log and read them back; each record's hash covers the one before.

A record holds time, actor, action, subject ids, outcome and details (ids, counts, sizes,
reasons): never file contents and no personal data beyond staff and customer ids, so erasing a
customer never has to touch the log. Records live in the ``audit_log`` table of state.db, numbered
1, 2, 3, ... without gaps; ``hash`` is SHA-256 over the previous record's hash and this record's
canonical JSON, so changing, removing, inserting or reordering a record breaks the chain after it.

Writing never fails silently: ``append`` raises AuditError (exit 3) when the record cannot be
written, and a caller that must not act unrecorded writes the record first (fail closed). Use
``append_in`` to write a record in the same transaction as the state change it records.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import pathlib
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

from backupctl import state
from backupctl.errors import BackupctlError, ExitCode

GENESIS = "0" * 64
# Outcomes a record may carry.
OUTCOMES = ("ok", "started", "failed", "refused", "denied", "warning")
MAX_DETAILS_BYTES = 16 * 1024  # a record is a line of evidence, not a data dump


class AuditError(BackupctlError):
    """The audit log cannot be written or read; the action it would record does not happen."""

    exit_code = ExitCode.FAILED


@dataclasses.dataclass(frozen=True)
class Event:
    """What happened: who did which action to which subjects, with what outcome."""

    action: str  # dotted, e.g. "backup.run", "restore.approve", "job.custody"
    actor: str
    outcome: str = "ok"
    subjects: Mapping[str, str] = dataclasses.field(default_factory=dict)
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Record:
    """One stored record of the log."""

    seq: int
    at: str
    actor: str
    action: str
    subjects: Mapping[str, str]
    outcome: str
    details: Mapping[str, Any]
    prev: str
    hash: str


def canonical(seq: int, at: str, event: Event) -> bytes:
    """Given a record's number, time and event, return the bytes its hash covers."""
    body = {
        "seq": seq,
        "at": at,
        "actor": event.actor,
        "action": event.action,
        "subjects": dict(event.subjects),
        "outcome": event.outcome,
        "details": dict(event.details),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def compact_json(value: Mapping[str, Any]) -> str:
    """Given subjects or details, return the JSON text stored: exactly as ``canonical`` writes
    it inside a record, so verification can rebuild the hashed bytes without re-encoding."""
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def chain_hash(prev: str, body: bytes) -> str:
    """Given the previous record's hash and this record's canonical bytes, return its hash."""
    return hashlib.sha256(bytes.fromhex(prev) + body).hexdigest()


def append(
    db: pathlib.Path,
    event: Event,
    *,
    at: str | None = None,
    connection: sqlite3.Connection | None = None,
) -> Record:
    """Given the state database and an event, append it in a transaction of its own (on
    ``connection`` when given: a run holds one for its records) and return the record; raise
    AuditError when it cannot be written (the caller then must not act)."""
    try:
        if connection is not None:
            return _append_committed(connection, event, at)
        with state.connect(db) as opened:
            return _append_committed(opened, event, at)
    except sqlite3.Error as error:
        raise AuditError(f"cannot write the audit log in {db}: {error}") from None


def _append_committed(connection: sqlite3.Connection, event: Event, at: str | None) -> Record:
    connection.isolation_level = None
    connection.execute("BEGIN IMMEDIATE")  # the last hash read here stays the last
    try:
        record = append_in(connection, event, at=at)
        connection.execute("COMMIT")  # durable (synchronous=FULL) before the caller acts
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.isolation_level = ""
    return record


def append_in(connection: sqlite3.Connection, event: Event, *, at: str | None = None) -> Record:
    """Given a connection inside a write transaction, append the event; return the record."""
    _check(event)
    at = at or datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")
    last = connection.execute(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    digest = chain_hash(prev, canonical(seq, at, event))
    connection.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subjects, outcome, details, prev, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            at,
            event.actor,
            event.action,
            compact_json(event.subjects),
            event.outcome,
            compact_json(event.details),
            prev,
            digest,
        ),
    )
    return Record(
        seq,
        at,
        event.actor,
        event.action,
        event.subjects,
        event.outcome,
        event.details,
        prev,
        digest,
    )


def _check(event: Event) -> None:
    if event.outcome not in OUTCOMES:
        raise AuditError(f"audit outcome {event.outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not event.action or not event.actor:
        raise AuditError("an audit record needs an action and an actor")
    if any(not isinstance(value, str) for value in event.subjects.values()):
        raise AuditError(f"audit subjects of {event.action} must be strings (ids)")
    try:
        size = len(json.dumps(dict(event.details)))
    except (TypeError, ValueError) as error:
        raise AuditError(f"audit details of {event.action} are not JSON: {error}") from None
    if size > MAX_DETAILS_BYTES:
        raise AuditError(f"audit details of {event.action} are {size} bytes, over the limit")


def records(db: pathlib.Path, *, after: int = 0) -> Iterator[Record]:
    """Given the state database, yield its records in order, starting after number ``after``."""
    with state.connect(db) as connection:
        cursor = connection.execute(
            "SELECT seq, at, actor, action, subjects, outcome, details, prev, hash"
            " FROM audit_log WHERE seq > ? ORDER BY seq",
            (after,),
        )
        for row in cursor:
            yield Record(
                row[0],
                row[1],
                row[2],
                row[3],
                json.loads(row[4]),
                row[5],
                json.loads(row[6]),
                row[7],
                row[8],
            )


def stored_event(record: Record) -> Event:
    """Given a stored record, return the event its hash covers."""
    return Event(record.action, record.actor, record.outcome, record.subjects, record.details)
