"""Write files atomically with a private mode, and hold an advisory lock beside them."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pathlib
import secrets
import time
from collections.abc import Iterator


class LockTimeout(OSError):
    """Another process held the lock for longer than we were willing to wait."""


def write_atomic(path: pathlib.Path, data: bytes, *, mode: int = 0o600) -> None:
    """Given a path and bytes, replace the file atomically: temp file in the same directory
    created with ``mode``, fsync, rename over ``path``, fsync the directory.

    A crash at any point leaves either the old file or the new one, never a mix; the temp
    file is removed on an exception.
    """
    directory = path.parent
    temp = directory / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            os.fchmod(stream.fileno(), mode)  # the umask may have removed bits we want
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_directory(directory)


def write_new(path: pathlib.Path, data: bytes, *, mode: int = 0o600) -> None:
    """Given a path that must not exist yet, write ``data`` to it with ``mode``; raise
    FileExistsError when it exists (never overwrites)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: pathlib.Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def locked(path: pathlib.Path, *, timeout: float = 30.0) -> Iterator[None]:
    """Hold an exclusive flock on ``<path>.lock`` (a separate file, since ``path`` itself is
    replaced by rename); raise LockTimeout after ``timeout`` seconds."""
    lock_path = path.with_name(path.name + ".lock")
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        errno.EAGAIN, f"{lock_path} is held by another process"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
