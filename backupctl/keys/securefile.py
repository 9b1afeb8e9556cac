"""Read and write key material safely: bounded reads of regular files only, atomic private
writes that never follow a symlink nor replace anything but a regular file, and a lock file.

Reads open with ``O_NOFOLLOW | O_NONBLOCK`` after an ``lstat``, so a symlink (to /dev/zero, say)
or a FIFO is refused at once instead of filling memory or hanging, and a file larger than the
caller's bound is refused before it is read. Writes go to a temp file created ``O_EXCL |
O_NOFOLLOW`` in the same directory, and are renamed over the destination only when that is
absent or a regular file: a device node, FIFO, directory or symlink is never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pathlib
import secrets
import stat
import time
from collections.abc import Callable, Iterator

from backupctl.keys.errors import UnsafeFile

MIB = 1024 * 1024
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class LockTimeout(OSError):
    """Another process held the lock for longer than we were willing to wait."""


def kind_of(mode: int) -> str:
    """Given an st_mode, return what the file is, in words."""
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISREG, "a regular file"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def read_bounded(
    path: pathlib.Path,
    *,
    limit: int,
    what: str,
    check: Callable[[os.stat_result], None] | None = None,
) -> bytes:
    """Given a path, a size bound and a label (``what``), return the file's bytes; call
    ``check(stat)`` on the open file first. Raise UnsafeFile when it is a symlink, not a regular
    file or larger than ``limit``; FileNotFoundError when it is missing; OSError otherwise."""
    _refuse_unless_regular(path, what=what, verb="read")
    try:
        descriptor = os.open(path, _READ_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:  # became a symlink since the lstat
            raise UnsafeFile(f"{what} {path} is a symbolic link; refusing to read it") from None
        raise
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeFile(f"{what} {path} is {kind_of(status.st_mode)}; refusing to read it")
        if check is not None:
            check(status)
        data = _read_at_most(descriptor, limit + 1)
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise UnsafeFile(f"{what} {path} is larger than {_size(limit)}; refusing to read it")
    return data


def _refuse_unless_regular(path: pathlib.Path, *, what: str, verb: str) -> None:
    """Raise UnsafeFile when ``path`` exists and is not a regular file (symlinks not followed)."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(status.st_mode):
        raise UnsafeFile(f"{what} {path} is {kind_of(status.st_mode)}; refusing to {verb} it")


def _read_at_most(descriptor: int, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining > 0:
        chunk = os.read(descriptor, min(remaining, MIB))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit} bytes"


def write_atomic(path: pathlib.Path, data: bytes, *, mode: int = 0o600, what: str = "file") -> None:
    """Given a path and bytes, replace the file atomically: temp file in the same directory
    created ``O_EXCL | O_NOFOLLOW`` with ``mode``, fsync, rename over ``path``, fsync the
    directory. Raise UnsafeFile (nothing written) when ``path`` exists and is not a regular file.

    A crash at any point leaves either the old file or the new one, never a mix; the temp
    file is removed on an exception.
    """
    _refuse_unless_regular(path, what=what, verb="replace")
    directory = path.parent
    temp = directory / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    descriptor = os.open(temp, _CREATE_FLAGS, mode)
    try:
        _write_and_sync(descriptor, data, mode)
        _refuse_unless_regular(path, what=what, verb="replace")  # narrow the window to the rename
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_directory(directory)


def write_new(path: pathlib.Path, data: bytes, *, mode: int = 0o600) -> None:
    """Given a path that must not exist yet, write ``data`` to it with ``mode``; raise
    FileExistsError when anything exists there, a dangling symlink included (never overwrites)."""
    descriptor = os.open(path, _CREATE_FLAGS, mode)
    try:
        _write_and_sync(descriptor, data, mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    fsync_directory(path.parent)


def _write_and_sync(descriptor: int, data: bytes, mode: int) -> None:
    with os.fdopen(descriptor, "wb") as stream:
        os.fchmod(stream.fileno(), mode)  # the umask may have removed bits we want
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def fsync_directory(directory: pathlib.Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def locked(path: pathlib.Path, *, timeout: float = 30.0) -> Iterator[None]:
    """Hold an exclusive flock on ``<path>.lock`` (a separate file, since ``path`` itself is
    replaced by rename); raise LockTimeout after ``timeout`` seconds, UnsafeFile when the lock
    path is a symlink or not a regular file."""
    lock_path = path.with_name(path.name + ".lock")
    _refuse_unless_regular(lock_path, what="lock file", verb="use")
    try:
        descriptor = os.open(
            lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeFile(
                f"lock file {lock_path} is a symbolic link; refusing to use it"
            ) from None
        raise
    try:
        _wait_for_lock(descriptor, lock_path, timeout)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _wait_for_lock(descriptor: int, lock_path: pathlib.Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() > deadline:
                raise LockTimeout(errno.EAGAIN, f"{lock_path} is held by another process") from None
            time.sleep(0.05)
