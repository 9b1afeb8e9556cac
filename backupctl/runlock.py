"""One run at a time per source: an advisory lock file in the state directory."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
from collections.abc import Iterator

from backupctl.errors import BackupctlError


class SourceBusy(BackupctlError):
    pass


@contextlib.contextmanager
def source_lock(state_dir: pathlib.Path, source: str) -> Iterator[None]:
    """Hold the source's lock for the block; raise SourceBusy when another run holds it.

    The kernel drops the lock when a run dies, so a killed run never blocks the next one.
    """
    directory = state_dir / "locks"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / f"{source}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SourceBusy(f"source {source}: another backupctl run is working on it") from None
        yield
    finally:
        os.close(fd)
