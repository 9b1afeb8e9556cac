"""The embedded SQLite state: every backup run, and each location's result in it.

Later issues extend this database (restores, approvals, rotation); recovery keeps its own tables
in the same file. Writes are short transactions, so a killed run leaves a run marked unfinished
(``ended_at`` NULL) that ``status`` reports and the next run is not blocked by.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import pathlib
import sqlite3
from collections.abc import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    command TEXT NOT NULL,
    actor TEXT NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    exit_code INTEGER,
    tags TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS run_results (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    source TEXT NOT NULL,
    location TEXT NOT NULL,
    step TEXT NOT NULL,            -- 'backup' or 'replicate' or 'init'
    ok INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    bytes_added INTEGER NOT NULL DEFAULT 0,
    files_copied INTEGER NOT NULL DEFAULT 0,
    snapshot_id TEXT,
    finished_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS run_results_source ON run_results(source, location);
"""


def db_path(state_dir: pathlib.Path) -> pathlib.Path:
    """Given the state directory, return the state database's path in it."""
    return state_dir / "state.db"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True)
class LocationResult:
    source: str
    location: str
    step: str
    ok: bool
    reason: str = ""
    bytes_added: int = 0
    files_copied: int = 0
    snapshot_id: str | None = None


@contextlib.contextmanager
def connect(path: pathlib.Path) -> Iterator[sqlite3.Connection]:
    """Open the state database (creating it and its directory, mode 0700), schema ensured."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
        yield connection
        connection.commit()
    finally:
        connection.close()


def start_run(path: pathlib.Path, *, command: str, actor: str, host: str, tags=()) -> int:
    with connect(path) as connection:
        cursor = connection.execute(
            "INSERT INTO runs (command, actor, host, started_at, tags) VALUES (?, ?, ?, ?, ?)",
            (command, actor, host, utc_now(), json.dumps(list(tags))),
        )
        return int(cursor.lastrowid)


def record_result(path: pathlib.Path, run_id: int, result: LocationResult) -> None:
    with connect(path) as connection:
        connection.execute(
            "INSERT INTO run_results (run_id, source, location, step, ok, reason, bytes_added,"
            " files_copied, snapshot_id, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, result.source, result.location, result.step, int(result.ok), result.reason,
             result.bytes_added, result.files_copied, result.snapshot_id, utc_now()),
        )


def finish_run(path: pathlib.Path, run_id: int, exit_code: int) -> None:
    with connect(path) as connection:
        connection.execute("UPDATE runs SET ended_at = ?, exit_code = ? WHERE id = ?",
                           (utc_now(), exit_code, run_id))


def last_results(path: pathlib.Path, source: str) -> list[dict]:
    """Return the newest result of each (location, step) of a source, for status."""
    with connect(path) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT r.* FROM run_results r JOIN (SELECT location, step, MAX(rowid) AS newest"
            " FROM run_results WHERE source = ? GROUP BY location, step) n"
            " ON r.rowid = n.newest", (source,),
        ).fetchall()
        return [dict(row) for row in rows]


def unfinished_runs(path: pathlib.Path) -> list[dict]:
    with connect(path) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT * FROM runs WHERE ended_at IS NULL ORDER BY id DESC LIMIT 20").fetchall()
        return [dict(row) for row in rows]


def recent_runs(path: pathlib.Path, *, limit: int) -> list[dict]:
    """Return the newest runs, each with its per-location results, newest first."""
    with connect(path) as connection:
        connection.row_factory = sqlite3.Row
        runs = [dict(row) for row in connection.execute(
            "SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()]
        for run in runs:
            run["tags"] = json.loads(run["tags"])
            run["results"] = [dict(row) for row in connection.execute(
                "SELECT source, location, step, ok, reason, bytes_added, files_copied, snapshot_id,"
                " finished_at FROM run_results WHERE run_id = ? ORDER BY rowid", (run["id"],))]
        return runs
