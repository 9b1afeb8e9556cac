"""Open the state database root-only: the directory 0700, ``state.db`` and its -wal/-shm 0600.

The file is shared with the backup side; each side keeps its own tables and schema version.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sqlite3
import stat
from collections.abc import Iterator

from recovery import errors

SIDE_FILES = ("-wal", "-shm", "-journal")


def prepare(db_path: pathlib.Path) -> None:
    """Create the state directory (0700) and ``state.db`` (0600) when missing; tighten both.

    SQLite creates its -wal, -shm and -journal files with the mode of the database file, so
    they are 0600 too. Raise RefusedError when the database path is a symlink or not a file.
    """
    folder = db_path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    _tighten(folder, 0o700, directory=True)
    try:
        descriptor = os.open(db_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise errors.RefusedError(
            f"cannot open the state database {db_path}: {error.strerror} (a symlink is refused)"
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise errors.RefusedError(f"the state database {db_path} is not a regular file")
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    for suffix in SIDE_FILES:
        side = db_path.with_name(db_path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.lstat(side).st_mode):
                os.chmod(side, 0o600)


def _tighten(path: pathlib.Path, mode: int, *, directory: bool) -> None:
    info = os.lstat(path)
    if directory and not stat.S_ISDIR(info.st_mode):
        raise errors.RefusedError(f"the state directory {path} is not a directory (or a symlink)")
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, mode)


@contextlib.contextmanager
def connect(db_path: pathlib.Path) -> Iterator[sqlite3.Connection]:
    """Yield a connection in autocommit mode with rows by name; close it afterwards."""
    old_umask = os.umask(0o077)  # any side file SQLite creates now is root-only as well
    try:
        connection = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    finally:
        os.umask(old_umask)
    connection.row_factory = sqlite3.Row
    try:
        yield connection
    finally:
        connection.close()


@contextlib.contextmanager
def write(db_path: pathlib.Path) -> Iterator[sqlite3.Connection]:
    """Yield a connection inside ``BEGIN IMMEDIATE``; commit at the end, roll back on error."""
    with connect(db_path) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
