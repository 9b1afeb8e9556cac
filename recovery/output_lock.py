"""The lock a run holds on the image it writes (disk images and tape images alike)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
from collections.abc import Iterator

from recovery import errors


@contextlib.contextmanager
def exclusive(lock: pathlib.Path, *, busy: str) -> Iterator[None]:
    """Hold ``lock`` (created 0600, never through a symlink) for the block; raise RefusedError
    with ``busy`` when another run holds it, or when it cannot be opened."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(lock, flags, 0o600)
    except OSError as error:
        raise errors.RefusedError(f"cannot open the lock {lock}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise errors.RefusedError(busy) from None
        yield
    finally:
        os.close(descriptor)
