"""The SQLite side of repair jobs: the schema and conversions from rows.

Tables are prefixed ``recovery_`` since the state file is shared with the backup side. Custody
events are append-only: triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import json
import sqlite3

from recovery.custody import CustodyEvent

SCHEMA = """
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


def next_job_id(connection: sqlite3.Connection, at: str) -> str:
    """Given the opening time, return the next id of the day: J-YYYYMMDD-NNN."""
    prefix = "J-" + at[:10].replace("-", "") + "-"
    count = connection.execute(
        "SELECT COUNT(*) FROM recovery_jobs WHERE job_id LIKE ?", (prefix + "%",)
    ).fetchone()[0]
    return f"{prefix}{count + 1:03d}"


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
