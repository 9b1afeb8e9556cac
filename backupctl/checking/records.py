"""The tables of check and drill in the state database: the rotating subset's cursor per source
and location, every check's result, every drill's result (counts and ids, never file names)."""

from __future__ import annotations

import dataclasses
import pathlib
import sqlite3

from backupctl import state


def last_slice(db: pathlib.Path, source: str, location: str) -> tuple[int, int] | None:
    """Return (n, t) of the subset the last successful check read there, or None."""
    with state.connect(db) as connection:
        row = connection.execute(
            "SELECT last_slice, slices FROM check_cursors WHERE source = ? AND location = ?",
            (source, location),
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


def set_slice(db: pathlib.Path, source: str, location: str, number: int, slices: int) -> None:
    with state.connect(db) as connection:
        connection.execute(
            "INSERT INTO check_cursors (source, location, slices, last_slice) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(source, location) DO UPDATE SET slices = excluded.slices,"
            " last_slice = excluded.last_slice",
            (source, location, slices, number),
        )


def record_check(
    db: pathlib.Path, source: str, location: str, *, ok: bool, subset: str, reason: str
) -> None:
    with state.connect(db) as connection:
        connection.execute(
            "INSERT INTO check_results (source, location, finished_at, ok, subset, reason)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (source, location, state.utc_now(), int(ok), subset, reason),
        )


def last_checks(db: pathlib.Path, source: str) -> list[dict]:
    """Return the newest check result of each location of a source."""
    with state.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT c.* FROM check_results c JOIN (SELECT location, MAX(rowid) AS newest FROM"
            " check_results WHERE source = ? GROUP BY location) n ON c.rowid = n.newest"
            " ORDER BY c.location",
            (source,),
        ).fetchall()
    return [dict(row) for row in rows]


@dataclasses.dataclass(frozen=True)
class DrillRecord:
    ok: bool
    snapshot_id: str = ""
    restored_from: str = ""
    compared_with: str = ""
    files: int = 0
    bytes: int = 0
    mismatched: int = 0
    reason: str = ""


def record_drill(db: pathlib.Path, source: str, record: DrillRecord) -> None:
    fields = dataclasses.asdict(record)
    fields["ok"] = int(record.ok)
    with state.connect(db) as connection:
        connection.execute(
            "INSERT INTO drill_results (source, finished_at, ok, snapshot_id, restored_from,"
            " compared_with, files, bytes, mismatched, reason) VALUES"
            " (:source, :finished_at, :ok, :snapshot_id, :restored_from, :compared_with, :files,"
            " :bytes, :mismatched, :reason)",
            {**fields, "source": source, "finished_at": state.utc_now()},
        )


def last_drill(db: pathlib.Path, source: str) -> dict | None:
    with state.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            "SELECT * FROM drill_results WHERE source = ? ORDER BY rowid DESC LIMIT 1", (source,)
        ).fetchone()
    return dict(row) if row else None
