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
import logging
import os
import pathlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping

from backupctl.errors import BackupctlError
from backupctl.replication.manifest import Manifest
from backupctl.results import LocationResult

logger = logging.getLogger(__name__)

COMPONENT = "backup"
VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version"
    " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)
MIGRATIONS = (
    """
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
    """,
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;   -- tells a killed run from one still running
    CREATE TABLE manifest_sources (
        source TEXT PRIMARY KEY,
        established_at TEXT NOT NULL,
        how TEXT NOT NULL,             -- 'init' (restic created it) or 'adopted' (first run)
        location TEXT NOT NULL
    );
    CREATE TABLE manifest_files (
        source TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        deleted_at TEXT,               -- set when the toolkit itself deleted the file
        PRIMARY KEY (source, path)
    );
    CREATE TABLE verify_cursors (
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        last_path TEXT NOT NULL,       -- the sample of the next run starts after this path
        PRIMARY KEY (source, location)
    );
    CREATE TABLE verify_results (
        source TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        checked INTEGER NOT NULL,
        damaged INTEGER NOT NULL,
        repaired INTEGER NOT NULL,
        unrepairable INTEGER NOT NULL
    );
    """,
    """
    CREATE TABLE audit_log (           -- backupctl/audit/log.py: hash-linked, append only
        seq INTEGER PRIMARY KEY,       -- 1, 2, 3, ... without gaps
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subjects TEXT NOT NULL,        -- JSON object of ids (source, tenant, job, request, ...)
        outcome TEXT NOT NULL,
        details TEXT NOT NULL,         -- JSON object: counts, sizes, reasons (never file contents)
        prev TEXT NOT NULL,            -- hash of the record before (64 zeros for the first)
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_log_action ON audit_log(action, at);
    """,
    """
    CREATE TABLE audit_checkpoints (   -- backupctl/audit/checkpoint.py: signed heads of the log
        tree_size INTEGER PRIMARY KEY, -- records covered: 1 .. tree_size
        body TEXT NOT NULL,            -- the signed checkpoint, canonical JSON
        signature TEXT NOT NULL,       -- Ed25519 over body, hex
        frontier TEXT NOT NULL         -- JSON: the Merkle subtree roots to extend the tree from
    );
    CREATE TABLE audit_marks (         -- how far a mirror has come (custody ledger position)
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    """,
    # rotation (docs/rotation.md); read and written by backupctl/rotation/records.py
    """
    CREATE TABLE snapshot_records (
        source TEXT NOT NULL,
        snapshot_id TEXT NOT NULL,
        recorded_at TEXT NOT NULL,     -- when backupctl took it, or first saw it at a location
        how TEXT NOT NULL,             -- 'backup' (took it) or 'seen' (found it at a location)
        location TEXT NOT NULL,
        PRIMARY KEY (source, snapshot_id)
    );
    CREATE TABLE rotation_intents (
        source TEXT PRIMARY KEY,       -- at most one unfinished rotation per source
        run_id INTEGER NOT NULL,
        location TEXT NOT NULL,        -- where forget and prune run
        snapshot_ids TEXT NOT NULL,    -- JSON list: what forget removes there
        stage TEXT NOT NULL,           -- 'forget', 'prune', then 'replicate'
        before_prune TEXT,             -- JSON {path: size}: the location's files before prune
        started_at TEXT NOT NULL
    );
    CREATE TABLE rotation_events (
        run_id INTEGER NOT NULL,
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        step TEXT NOT NULL,            -- 'forget', 'prune', 'delete', 'copy', 'verify'
        ok INTEGER NOT NULL,
        snapshot_ids TEXT NOT NULL DEFAULT '[]',
        files INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        detail TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL
    );
    CREATE INDEX rotation_events_run ON rotation_events(run_id);
    CREATE TABLE rotation_pending (
        source TEXT NOT NULL,
        location TEXT NOT NULL,        -- still holds data rotation deleted
        since TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (source, location)
    );
    """,
    """
    CREATE TABLE staff_keys (          -- backupctl/staff: registered Ed25519 public keys
        fingerprint TEXT PRIMARY KEY,  -- sha256:<hex> of the raw public key
        account TEXT NOT NULL,
        public_key TEXT NOT NULL,      -- base64 of the 32 raw bytes
        registered_at TEXT NOT NULL,
        registered_by TEXT NOT NULL,
        revoked_at TEXT,
        revoked_by TEXT,
        revoke_reason TEXT
    );
    CREATE INDEX staff_keys_account ON staff_keys(account);
    CREATE TABLE restore_requests (    -- backupctl/restore/store.py
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL,            -- canonical JSON the requester signed
        signature TEXT NOT NULL,       -- base64 Ed25519 over body
        requester TEXT NOT NULL,
        source TEXT NOT NULL,
        tenant TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        status TEXT NOT NULL,          -- pending, approved, denied, expired, running, done, failed
        run_by TEXT,
        run_at TEXT,
        break_glass_reason TEXT,       -- set when run without approval by an admin
        acknowledged_by TEXT,          -- the auditor who acknowledged a break-glass restore
        acknowledged_at TEXT,
        result TEXT                    -- JSON: location, files, bytes, manifest path, or reason
    );
    CREATE TABLE restore_approvals (
        request_id TEXT NOT NULL REFERENCES restore_requests(id),
        approver TEXT NOT NULL,
        decision TEXT NOT NULL,        -- approve or deny
        body TEXT NOT NULL,            -- canonical JSON the approver signed ('' for a denial)
        signature TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (request_id, approver)
    );
    """,
)


class StateError(BackupctlError):
    """The state database cannot be used by this version of backupctl."""


def db_path(state_dir: pathlib.Path) -> pathlib.Path:
    """Given the state directory, return the state database's path in it."""
    return state_dir / "state.db"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


# Databases this process has already migrated and checked (modes, WAL mode is persistent).
_PREPARED: set[str] = set()


@contextlib.contextmanager
def connect(path: pathlib.Path) -> Iterator[sqlite3.Connection]:
    """Open the state database (creating its directory 0700 and its files 0600) with the schema
    migrated to this version; raise StateError when the database is newer than this code."""
    previous = os.umask(0o077)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        connection = sqlite3.connect(path, timeout=30)
    finally:
        os.umask(previous)
    try:
        if str(path) not in _PREPARED:  # once per process: a run opens the database many times
            connection.execute("PRAGMA journal_mode=WAL")
            _restrict_modes(path)
            migrate(connection)
            _PREPARED.add(str(path))
        yield connection
        connection.commit()
    finally:
        connection.close()


@contextlib.contextmanager
def kept_open(path: pathlib.Path) -> Iterator[None]:
    """Keep one connection to the state database open (idle, after one read) while a run works.

    SQLite checkpoints the WAL into the database (three syncs) and deletes it whenever the last
    connection closes, and every ``connect`` of a run is closed soon: with this one open, a
    commit costs one sync of the WAL, and the checkpoint happens once, when this closes. Every
    commit stays durable (synchronous=FULL); only the copying into the database file waits."""
    with contextlib.ExitStack() as stack:
        try:
            connection = stack.enter_context(connect(path))
            connection.execute("SELECT count(*) FROM sqlite_master").fetchall()  # opens the WAL
        except sqlite3.Error as error:  # the run's own writes fail closed with their own errors
            logger.debug("state database %s not kept open: %s", path, error)
        yield


def _restrict_modes(path: pathlib.Path) -> None:
    """Make the state directory 0700 and the database files 0600 where they are looser (a
    directory made by hand, a file made by an older version)."""
    directory_mode = path.parent.stat().st_mode
    if directory_mode & 0o077:
        logger.warning(
            "state directory %s was mode %o; made it 0700", path.parent, directory_mode & 0o777
        )
        os.chmod(path.parent, 0o700)
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)


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


def record_result(path: pathlib.Path, run_id: int, result: LocationResult) -> None:
    with connect(path) as connection:
        connection.execute(
            "INSERT INTO run_results (run_id, source, location, step, ok, reason, bytes_added,"
            " files_copied, snapshot_id, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
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
            ),
        )


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
