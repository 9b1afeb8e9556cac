"""One run at a time per source: an advisory lock file in the state directory.

The lock file also tells whether the previous run of the source ended cleanly: a run writes its
pid into it when it takes the lock and empties it when its block ends without an exception. A
run that finds a pid there knows the one before it was killed (or failed mid-way) and may have
left temporary files at the source's locations.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import fcntl
import logging
import os
import pathlib
import time
from collections.abc import Iterator

from backupctl.errors import BackupctlError

logger = logging.getLogger(__name__)

RECORD_LIMIT = 64  # a pid and a newline; anything longer was not written by us
POLL_SECONDS = 1.0
# How long a run waits for a source another run holds: 0 (refuse at once) unless a scheduled
# job set it (``patience``): a nightly rotation then waits for the hourly backup to finish.
_PATIENCE: contextvars.ContextVar[float] = contextvars.ContextVar("patience", default=0.0)


class SourceBusy(BackupctlError):
    pass


@dataclasses.dataclass(frozen=True)
class Held:
    """The held lock of one source; ``previous_run_unclean``: the run before did not end cleanly."""

    source: str
    previous_run_unclean: bool


@contextlib.contextmanager
def patience(seconds: float) -> Iterator[None]:
    """Within the block, a run waits up to ``seconds`` for a source another run holds."""
    token = _PATIENCE.set(max(0.0, seconds))
    try:
        yield
    finally:
        _PATIENCE.reset(token)


@contextlib.contextmanager
def source_lock(state_dir: pathlib.Path, source: str) -> Iterator[Held]:
    """Hold the source's lock for the block; raise SourceBusy when another run holds it (after
    waiting as long as ``patience`` allows).

    The kernel drops the lock when a run dies, so a killed run never blocks the next one.
    """
    directory = state_dir / "locks"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / f"{source}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        _take(fd, source, _PATIENCE.get())
        unclean = bool(os.pread(fd, RECORD_LIMIT, 0).strip())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield Held(source, previous_run_unclean=unclean)
        os.ftruncate(fd, 0)  # only reached when the block ended without an exception
    finally:
        os.close(fd)


def _take(fd: int, source: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SourceBusy(
                    f"source {source}: another backupctl run is working on it"
                ) from None
            if wait and remaining + POLL_SECONDS > wait:  # the first miss only
                logger.warning("source %s: waiting up to %.0fs for the run on it", source, wait)
            time.sleep(min(POLL_SECONDS, remaining))
