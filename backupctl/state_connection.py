"""How backupctl opens its SQLite state database: files root-only, write-ahead log, the schema
prepared once per process, and one connection kept open for a whole run.

Every ``connect`` block commits at its end (rolls back when it raises), so each write is as
durable as a fresh connection's. Inside a ``session`` the blocks share one connection: a run over
many sources then opens the database once, and SQLite does not checkpoint and sync its
write-ahead log at every close (that was most of a run's time per source beside restic).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pathlib
import sqlite3
import threading
from collections.abc import Callable, Iterator

logger = logging.getLogger(__name__)

# Databases this process has already prepared (migrated, modes checked; WAL mode is persistent).
_PREPARED: set[str] = set()
# Per thread: the connection a ``session`` keeps open, by database path.
_SESSIONS = threading.local()


@dataclasses.dataclass
class _Shared:
    connection: sqlite3.Connection
    in_use: bool = False  # a ``connect`` block is using it right now


Prepare = Callable[[sqlite3.Connection], object]


@contextlib.contextmanager
def session(path: pathlib.Path, prepare: Prepare) -> Iterator[None]:
    """Keep one connection to the database at ``path`` open for the block, in this thread, for
    every ``connect`` of the block; a session already open for ``path`` in this thread is reused.
    ``prepare`` migrates a new database (its errors propagate)."""
    sessions = _thread_sessions()
    if str(path) in sessions:
        yield
        return
    sessions[str(path)] = _Shared(open_prepared(path, prepare))
    try:
        yield
    finally:
        sessions.pop(str(path)).connection.close()


@contextlib.contextmanager
def connect(path: pathlib.Path, prepare: Prepare) -> Iterator[sqlite3.Connection]:
    """Yield a connection to the database at ``path`` (the session's, when this thread holds one
    and no other block uses it; a new one otherwise); commit at the end of the block, roll back
    when it raises."""
    shared = _thread_sessions().get(str(path))
    if shared is None or shared.in_use:
        connection = open_prepared(path, prepare)
        try:
            yield connection
            connection.commit()
        finally:
            connection.close()
        return
    shared.in_use = True
    shared.connection.row_factory = None  # a block before may have set sqlite3.Row
    try:
        yield shared.connection
        shared.connection.commit()
    except BaseException:
        shared.connection.rollback()
        raise
    finally:
        shared.in_use = False


def open_prepared(path: pathlib.Path, prepare: Prepare) -> sqlite3.Connection:
    """Return a new connection to the database at ``path``, creating its directory 0700 and its
    files 0600; the first time in this process, switch it to WAL, tighten loose modes and run
    ``prepare``."""
    previous = os.umask(0o077)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        connection = sqlite3.connect(path, timeout=30)
    finally:
        os.umask(previous)
    try:
        if str(path) not in _PREPARED:  # once per process: a run opens the database many times
            connection.execute("PRAGMA journal_mode=WAL")
            restrict_modes(path)
            prepare(connection)
            _PREPARED.add(str(path))
    except BaseException:
        connection.close()
        raise
    return connection


def restrict_modes(path: pathlib.Path) -> None:
    """Make the database's directory 0700 and its files 0600 where they are looser (a directory
    made by hand, a file made by an older version)."""
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


def _thread_sessions() -> dict[str, _Shared]:
    if not hasattr(_SESSIONS, "by_path"):
        _SESSIONS.by_path = {}
    return _SESSIONS.by_path
