"""Progress for long operations: tqdm bars on a TTY, periodic log lines without one, JSON lines
with --json, nothing with --quiet."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from backupctl.progress import (
    PROGRESS_INTERVAL_SECONDS,
    NoProgress,
    PeriodicProgress,
    Progress,
    describe,
)
from backupctl.restic.messages import Status

if TYPE_CHECKING:
    import tqdm


def _bar(**options: object) -> tqdm.tqdm:
    """Return a tqdm bar; tqdm is imported here, only when a bar is drawn, because importing it
    (it reads its own package metadata) costs about 10 ms on every run, quiet or not."""
    import tqdm

    return tqdm.tqdm(**options)


SCAN_PHASES = {
    "listing": "listing file systems",
    "recovering": "recovering files",
    "carving": "carving",
    "carved": "carved files",
}


class TqdmProgress:
    """Bytes, files, rate and ETA from restic's status lines; bytes for the copy to the other
    locations."""

    def __init__(self) -> None:
        self._bar: tqdm.tqdm | None = None
        self._phase: str | None = None

    def backup_started(self, source: str, location: str) -> None:
        self._bar = _bar(
            desc=f"{source} → {location}",
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            leave=False,
        )

    def backup_status(self, source: str, status: Status) -> None:
        if self._bar is None:
            return
        self._bar.total = status.total_bytes or None
        self._bar.n = status.bytes_done
        self._bar.set_postfix_str(f"{status.files_done}/{status.total_files} files", refresh=False)
        self._bar.refresh()

    def backup_finished(self, source: str) -> None:
        self._close()

    def replication_started(self, source: str, total_bytes: int) -> None:
        self._bar = _bar(
            desc=f"{source} copies",
            total=total_bytes or None,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            leave=False,
        )

    def replication_bytes(self, source: str, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def replication_finished(self, source: str) -> None:
        self._close()

    def scan_progress(self, job: str, phase: str, done: int, total: int) -> None:
        """One bar per scan phase: bytes recovered or areas carved, then carved files counted."""
        if self._bar is None or self._phase != phase:
            self._close()
            self._phase = phase
            in_bytes = phase in ("recovering", "carving")
            self._bar = _bar(
                desc=f"{job} {SCAN_PHASES.get(phase, phase)}",
                total=total or None,
                unit="B" if in_bytes else " files",
                unit_scale=in_bytes,
                unit_divisor=1024,
                file=sys.stderr,
                leave=False,
            )
        self._bar.n = done
        self._bar.refresh()

    def scan_finished(self, job: str) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class JsonProgress(PeriodicProgress):
    """One JSON object per line on stderr, so stdout keeps only the result: the start and end of
    each phase, and at most one progress object every PROGRESS_INTERVAL_SECONDS in between."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        super().__init__(_emit_json, clock=clock, interval=interval)


class LogProgress(PeriodicProgress):
    """Progress lines through logging to stderr, for runs without a terminal (cron, systemd):
    a hung run still shows how far it got."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        super().__init__(_log_line, clock=clock, interval=interval)


PROGRESS_LOGGER = logging.getLogger("backupctl.progress")


def _log_line(event: str, fields: dict) -> None:
    PROGRESS_LOGGER.info("progress: %s", describe(event, fields))


def _emit_json(event: str, fields: dict) -> None:
    sys.stderr.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stderr.flush()


def choose(*, quiet: bool, as_json: bool) -> Progress:
    """Return nothing when quiet, JSON lines with --json, a bar on a terminal, else log lines."""
    if quiet:
        return NoProgress()
    if as_json:
        return JsonProgress()
    if sys.stderr.isatty():
        return TqdmProgress()
    PROGRESS_LOGGER.setLevel(logging.INFO)  # shown without -v: it is what a scheduled run shows
    return LogProgress()
