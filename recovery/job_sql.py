"""The SQLite side of repair jobs: versioned schema, the ledger, and conversions from rows.

Tables are prefixed ``recovery_`` since the state file is shared with the backup side. Each
component keeps its schema version in the shared ``schema_version`` table (component
``recovery``); ``MIGRATIONS`` are applied in order past the stored version, in one transaction.
Custody events and ledger entries are append-only: triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable

from recovery import errors
from recovery.custody import CustodyEvent

COMPONENT = "recovery"
VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version"
    " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)

# 1: the schema before versions existed (IF NOT EXISTS: an old database adopts it as it is).
_V1 = """
CREATE TABLE IF NOT EXISTS recovery_jobs (
    job_id TEXT PRIMARY KEY, customer TEXT NOT NULL, consent_ref TEXT NOT NULL,
    ticket TEXT, note TEXT, status TEXT NOT NULL, opened_at TEXT NOT NULL, closed_at TEXT,
    medium TEXT, head_digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recovery_custody_events (
    job_id TEXT NOT NULL REFERENCES recovery_jobs(job_id), sequence INTEGER NOT NULL,
    kind TEXT NOT NULL, actor TEXT NOT NULL, host TEXT NOT NULL, at TEXT NOT NULL,
    details TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (job_id, sequence)
);
CREATE TRIGGER IF NOT EXISTS recovery_custody_no_update BEFORE UPDATE ON recovery_custody_events
BEGIN SELECT RAISE(ABORT, 'custody events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS recovery_custody_no_delete BEFORE DELETE ON recovery_custody_events
BEGIN SELECT RAISE(ABORT, 'custody events are append-only'); END;
"""

# 2: the store-wide ledger (every event of every job, hash-chained, its head in its own table),
# the original read-only flag of a device being imaged, and the image folder of each job.
_V2 = """
CREATE TABLE recovery_ledger (
    position INTEGER PRIMARY KEY, job_id TEXT NOT NULL, sequence INTEGER NOT NULL,
    event_digest TEXT NOT NULL, digest TEXT NOT NULL
);
CREATE TABLE recovery_ledger_head (
    id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL, digest TEXT NOT NULL
);
CREATE TRIGGER recovery_ledger_no_update BEFORE UPDATE ON recovery_ledger
BEGIN SELECT RAISE(ABORT, 'the custody ledger is append-only'); END;
CREATE TRIGGER recovery_ledger_no_delete BEFORE DELETE ON recovery_ledger
BEGIN SELECT RAISE(ABORT, 'the custody ledger is append-only'); END;
CREATE TABLE recovery_read_only (
    node TEXT PRIMARY KEY, job_id TEXT NOT NULL, read_only INTEGER NOT NULL, saved_at TEXT NOT NULL
);
CREATE TABLE recovery_image_folders (
    job_id TEXT PRIMARY KEY, folder TEXT NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL
);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2)
LEDGER_GENESIS = "0" * 64

JOB_ID = re.compile(r"J-\d{8}-\d{3,6}")
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}")
FREE_TEXT_MAX = 2000


def check_job_id(job_id: str) -> str:
    """Given a job id from outside, return it; raise InvalidRequest when it is not
    J-YYYYMMDD-NNN."""
    if not JOB_ID.fullmatch(job_id):
        raise errors.InvalidRequest(f"{job_id[:80]!r} is not a job id (J-YYYYMMDD-NNN)")
    return job_id


def check_reference(name: str, value: str | None) -> str | None:
    """Given a reference (consent, ticket), return it; raise InvalidRequest for other characters."""
    if value is not None and not REFERENCE.fullmatch(value):
        raise errors.InvalidRequest(
            f"{name} {value[:80]!r} is not a reference: use 1-64 letters, digits and . _ : / # -"
        )
    return value


def check_free_text(name: str, value: str | None) -> str | None:
    """Given free text (customer name, note), return it; raise InvalidRequest when too long."""
    if value is not None and len(value) > FREE_TEXT_MAX:
        raise errors.InvalidRequest(f"{name} is longer than {FREE_TEXT_MAX} characters")
    return value


def migrate(
    connection: sqlite3.Connection, adopt: Callable[[sqlite3.Connection, int], None]
) -> None:
    """Bring the recovery tables to the newest schema in one transaction.

    ``adopt(connection, from_version)`` runs after the scripts, in the same transaction, for the
    steps SQL cannot do (the ledger of events recorded before it existed). Raise SchemaTooNew for
    a database written by a newer backupctl.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(VERSION_TABLE)
        row = connection.execute(
            "SELECT version FROM schema_version WHERE component = ?", (COMPONENT,)
        ).fetchone()
        current = row[0] if row else 0
        if current > len(MIGRATIONS):
            raise errors.SchemaTooNew(
                f"the recovery tables of the state database are version {current}; this backupctl"
                f" knows up to {len(MIGRATIONS)}: upgrade backupctl"
            )
        for script in MIGRATIONS[current:]:
            for statement in _statements(script):
                connection.execute(statement)
        if current < len(MIGRATIONS):
            adopt(connection, current)
            connection.execute(
                "INSERT OR REPLACE INTO schema_version (component, version) VALUES (?, ?)",
                (COMPONENT, len(MIGRATIONS)),
            )
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a script into statements (executescript would commit the open transaction)."""
    statements, pending = [], ""
    for line in script.strip().splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements


def next_job_id(connection: sqlite3.Connection, at: str) -> str:
    """Given the opening time, return the next id of the day: J-YYYYMMDD-NNN.

    The number follows the highest one ever used that day, in the job rows and in the ledger,
    so the id of a deleted job is never given out again.
    """
    prefix = "J-" + at[:10].replace("-", "") + "-"
    used = connection.execute(
        "SELECT job_id FROM recovery_jobs WHERE job_id LIKE ?1"
        " UNION SELECT job_id FROM recovery_ledger WHERE job_id LIKE ?1",
        (prefix + "%",),
    ).fetchall()
    numbers = [int(row[0][len(prefix) :]) for row in used if row[0][len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def event_from_row(row: sqlite3.Row) -> CustodyEvent:
    return CustodyEvent(
        sequence=row["sequence"],
        job_id=row["job_id"],
        kind=row["kind"],
        actor=row["actor"],
        host=row["host"],
        at=row["at"],
        details=json.loads(row["details"]),
        digest=row["digest"],
    )
