"""The embedded SQLite state: every run and each location's result in it, each source's manifest
of repository files, and the verify cursors and results.

Later issues extend this database (restores, approvals, rotation); recovery keeps its own tables
in the same file. Writes are short transactions, so a killed run leaves a run marked unfinished
(``ended_at`` NULL) that ``status`` reports and the next run is not blocked by. The schema is
versioned per component in the shared ``schema_version`` table; the directory is 0700 and the
database files 0600 (they name customers, paths and locations).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pathlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping

from backupctl import state_connection
from backupctl.errors import BackupctlError
from backupctl.replication.manifest import Manifest
from backupctl.results import LocationResult
from backupctl.state_schema import MIGRATIONS, VERSION_TABLE

COMPONENT = "backup"


class StateError(BackupctlError):
    """The state database cannot be used by this version of backupctl."""


def db_path(state_dir: pathlib.Path) -> pathlib.Path:
    """Given the state directory, return the state database's path in it."""
    return state_dir / "state.db"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def session(path: pathlib.Path) -> Iterator[None]:
    """Keep one connection to the state database open for the block (in this thread): every
    ``connect`` inside reuses it, each block still committing at its end; raise StateError when
    the database is newer than this code."""
    with state_connection.session(path, migrate):
        yield


@contextlib.contextmanager
def connect(path: pathlib.Path) -> Iterator[sqlite3.Connection]:
    """Open the state database (creating its directory 0700 and its files 0600) with the schema
    migrated to this version; commit at the end of the block, roll back when it raises; raise
    StateError when the database is newer than this code. Inside a ``session``, its connection."""
    with state_connection.connect(path, migrate) as connection:
        yield connection


def migrate(connection: sqlite3.Connection) -> int:
    """Apply the migrations past the stored version in one transaction (taken before the version
    is read, so two processes never apply one twice); return the version."""
    connection.execute(VERSION_TABLE)
    connection.commit()
    if _stored_version(connection) == len(MIGRATIONS):
        return len(MIGRATIONS)
    connection.isolation_level = None  # explicit transactions below
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = _stored_version(connection)
            for script in MIGRATIONS[current:]:
                for statement in _statements(script):
                    connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_version (component, version) VALUES (?, ?)"
                " ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                (COMPONENT, len(MIGRATIONS)),
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.isolation_level = ""
    return len(MIGRATIONS)


def _stored_version(connection: sqlite3.Connection) -> int:
    row = connection.execute(
        "SELECT version FROM schema_version WHERE component = ?", (COMPONENT,)
    ).fetchone()
    current = row[0] if row else 0
    if current > len(MIGRATIONS):
        raise StateError(
            f"state database schema ({COMPONENT}) is version {current}, newer than "
            f"this backupctl knows ({len(MIGRATIONS)}); upgrade backupctl"
        )
    return current


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


# ---- runs --------------------------------------------------------------------------------------


def start_run(
    path: pathlib.Path, *, command: str, actor: str, host: str, tags: Iterable[str] = ()
) -> int:
    with connect(path) as connection:
        cursor = connection.execute(
            "INSERT INTO runs (command, actor, host, started_at, tags, pid)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (command, actor, host, utc_now(), json.dumps(list(tags)), os.getpid()),
        )
        return int(cursor.lastrowid)


_RESULT_INSERT = (
    "INSERT INTO run_results (run_id, source, location, step, ok, reason, bytes_added,"
    " files_copied, snapshot_id, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _result_row(run_id: int, result: LocationResult) -> tuple:
    return (
        run_id,
        result.source,
        result.location,
        result.step,
        int(result.ok),
        result.reason,
        result.bytes_added,
        result.files_copied,
        result.snapshot_id,
        utc_now(),
    )


def record_result(path: pathlib.Path, run_id: int, result: LocationResult) -> None:
    with connect(path) as connection:
        connection.execute(_RESULT_INSERT, _result_row(run_id, result))


def record_results(path: pathlib.Path, run_id: int, results: Iterable[LocationResult]) -> None:
    """Record one source's results in one transaction, without waiting for the disk: the
    commit survives a killed process at once (write-ahead log), and a power loss from the next
    synced commit on (the next source's manifest, or the run's end) - a power loss before that
    leaves the run unfinished, which ``status`` reports."""
    with connect(path) as connection:
        previous = connection.execute("PRAGMA synchronous").fetchone()[0]
        connection.execute("PRAGMA synchronous = NORMAL")
        try:
            connection.executemany(_RESULT_INSERT, [_result_row(run_id, r) for r in results])
            connection.commit()
        finally:
            connection.execute(f"PRAGMA synchronous = {int(previous)}")


def finish_run(path: pathlib.Path, run_id: int, exit_code: int) -> None:
    with connect(path) as connection:
        connection.execute(
            "UPDATE runs SET ended_at = ?, exit_code = ? WHERE id = ?",
            (utc_now(), exit_code, run_id),
        )


def last_results(path: pathlib.Path, source: str) -> list[dict]:
    """Return the newest result of each (location, step) of a source, for status."""
    with connect(path) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT r.* FROM run_results r JOIN (SELECT location, step, MAX(rowid) AS newest"
            " FROM run_results WHERE source = ? GROUP BY location, step) n"
            " ON r.rowid = n.newest",
            (source,),
        ).fetchall()
        return [dict(row) for row in rows]


def unfinished_runs(path: pathlib.Path) -> list[dict]:
    """Return the runs that never finished (killed, or still running) and began after the newest
    run that did finish (an older one was caught up by it), newest first."""
    with connect(path) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT * FROM runs WHERE ended_at IS NULL AND id > COALESCE((SELECT MAX(id) FROM"
            " runs WHERE ended_at IS NOT NULL), 0) ORDER BY id DESC LIMIT 20"
        ).fetchall()
        return [{**dict(row), "tags": json.loads(row["tags"])} for row in rows]


def recent_runs(path: pathlib.Path, *, limit: int) -> list[dict]:
    """Return the newest runs, each with its per-location results, newest first."""
    with connect(path) as connection:
        connection.row_factory = sqlite3.Row
        runs = [
            dict(row)
            for row in connection.execute(
                "SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        ]
        for run in runs:
            run["tags"] = json.loads(run["tags"])
            run["results"] = [
                dict(row)
                for row in connection.execute(
                    "SELECT source, location, step, ok, reason, bytes_added, files_copied,"
                    " snapshot_id, finished_at FROM run_results WHERE run_id = ? ORDER BY rowid",
                    (run["id"],),
                )
            ]
        return runs


# ---- manifest ----------------------------------------------------------------------------------


def load_manifest(path: pathlib.Path, source: str) -> Manifest | None:
    """Given a source, return its manifest, or None when none was ever established."""
    with connect(path) as connection:
        if (
            connection.execute(
                "SELECT 1 FROM manifest_sources WHERE source = ?", (source,)
            ).fetchone()
            is None
        ):
            return None
        rows = connection.execute(
            "SELECT path, size, deleted_at FROM manifest_files WHERE source = ?", (source,)
        ).fetchall()
    return Manifest(
        {p: size for p, size, deleted in rows if deleted is None},
        frozenset(p for p, _, deleted in rows if deleted is not None),
    )


def establish_manifest(
    path: pathlib.Path, source: str, files: Mapping[str, int], *, how: str, location: str
) -> None:
    """Replace a source's manifest by ``files`` (a listing restic just created, or adopted once)."""
    now = utc_now()
    with connect(path) as connection:
        connection.execute("DELETE FROM manifest_files WHERE source = ?", (source,))
        connection.execute(
            "INSERT INTO manifest_sources (source, established_at, how, location) VALUES"
            " (?, ?, ?, ?) ON CONFLICT(source) DO UPDATE SET established_at = excluded."
            "established_at, how = excluded.how, location = excluded.location",
            (source, now, how, location),
        )
        connection.executemany(
            "INSERT INTO manifest_files (source, path, size, added_at) VALUES (?, ?, ?, ?)",
            [(source, name, size, now) for name, size in files.items()],
        )


def add_to_manifest(path: pathlib.Path, source: str, files: Mapping[str, int]) -> None:
    """Add files restic was seen writing; a path already there keeps its recorded size."""
    now = utc_now()
    with connect(path) as connection:
        connection.executemany(
            "INSERT INTO manifest_files (source, path, size, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(source, path) DO NOTHING",
            [(source, name, size, now) for name, size in files.items()],
        )


def mark_deleted(path: pathlib.Path, source: str, paths: list[str]) -> None:
    """Record that the toolkit deleted these files: every location then follows."""
    with connect(path) as connection:
        connection.executemany(
            "UPDATE manifest_files SET deleted_at = ? WHERE source = ? AND path = ?",
            [(utc_now(), source, name) for name in paths],
        )


def manifest_origin(path: pathlib.Path, source: str) -> dict | None:
    with connect(path) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            "SELECT * FROM manifest_sources WHERE source = ?", (source,)
        ).fetchone()
        return dict(row) if row else None


# ---- verify ------------------------------------------------------------------------------------


def verify_cursor(path: pathlib.Path, source: str, location: str) -> str | None:
    with connect(path) as connection:
        row = connection.execute(
            "SELECT last_path FROM verify_cursors WHERE source = ? AND location = ?",
            (source, location),
        ).fetchone()
        return row[0] if row else None


def set_verify_cursor(path: pathlib.Path, source: str, location: str, last_path: str) -> None:
    with connect(path) as connection:
        connection.execute(
            "INSERT INTO verify_cursors (source, location, last_path) VALUES (?, ?, ?)"
            " ON CONFLICT(source, location) DO UPDATE SET last_path = excluded.last_path",
            (source, location, last_path),
        )


def record_verify(
    path: pathlib.Path, source: str, *, checked: int, damaged: int, repaired: int, unrepairable: int
) -> None:
    with connect(path) as connection:
        connection.execute(
            "INSERT INTO verify_results (source, finished_at, checked, damaged, repaired,"
            " unrepairable) VALUES (?, ?, ?, ?, ?, ?)",
            (source, utc_now(), checked, damaged, repaired, unrepairable),
        )


def last_verify(path: pathlib.Path, source: str) -> dict | None:
    with connect(path) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            "SELECT * FROM verify_results WHERE source = ? ORDER BY rowid DESC LIMIT 1", (source,)
        ).fetchone()
        return dict(row) if row else None
