"""One run at a time per source: an advisory lock file in the state directory.

The lock file also tells whether the previous run of the source ended cleanly: a run writes its
pid into it when it takes the lock and empties it when its block ends without an exception. A
run that finds a pid there knows the one before it was killed (or failed mid-way) and may have
left temporary files at the source's locations.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import pathlib
from collections.abc import Iterator

from backupctl.errors import BackupctlError

RECORD_LIMIT = 64  # a pid and a newline; anything longer was not written by us


class SourceBusy(BackupctlError):
    pass


@dataclasses.dataclass(frozen=True)
class Held:
    """The held lock of one source; ``previous_run_unclean``: the run before did not end cleanly."""

    source: str
    previous_run_unclean: bool


@contextlib.contextmanager
def source_lock(state_dir: pathlib.Path, source: str) -> Iterator[Held]:
    """Hold the source's lock for the block; raise SourceBusy when another run holds it.

    The kernel drops the lock when a run dies, so a killed run never blocks the next one.
    """
    directory = state_dir / "locks"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / f"{source}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SourceBusy(f"source {source}: another backupctl run is working on it") from None
        unclean = bool(os.pread(fd, RECORD_LIMIT, 0).strip())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield Held(source, previous_run_unclean=unclean)
        os.ftruncate(fd, 0)  # only reached when the block ended without an exception
    finally:
        os.close(fd)
