"""How actions report progress: an injected object, so actions never print or import tqdm.

The CLI supplies a tqdm implementation on a TTY; without one, periodic log lines
(``PeriodicProgress`` with ``describe``); JSON lines with --json; nothing with --quiet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from backupctl.restic.messages import Status


class Progress(Protocol):
    def backup_started(self, source: str, location: str) -> None: ...

    def backup_status(self, source: str, status: Status) -> None: ...

    def backup_finished(self, source: str) -> None: ...

    def replication_started(self, source: str, total_bytes: int) -> None: ...

    def replication_bytes(self, source: str, count: int) -> None: ...

    def replication_finished(self, source: str) -> None: ...

    def scan_progress(self, job: str, phase: str, done: int, total: int) -> None: ...

    def scan_finished(self, job: str) -> None: ...


class NoProgress:
    """Reports nothing (quiet runs, tests)."""

    def backup_started(self, source: str, location: str) -> None:
        pass

    def backup_status(self, source: str, status: Status) -> None:
        pass

    def backup_finished(self, source: str) -> None:
        pass

    def replication_started(self, source: str, total_bytes: int) -> None:
        pass

    def replication_bytes(self, source: str, count: int) -> None:
        pass

    def replication_finished(self, source: str) -> None:
        pass

    def scan_progress(self, job: str, phase: str, done: int, total: int) -> None:
        pass

    def scan_finished(self, job: str) -> None:
        pass


# Without a terminal (cron, systemd), at most one progress line per phase every this many seconds.
PROGRESS_INTERVAL_SECONDS = 10.0

Emit = Callable[[str, dict[str, Any]], None]


class PeriodicProgress:
    """Progress for runs nobody watches live: an event at the start and end of each phase (backup
    to a location, copies to the others) and in between at most one every ``interval`` seconds.

    Each event is a name and a dict of counts, sizes and names of sources and locations; never a
    file name (clause 10.9). ``emit`` writes it (a log line, or a JSON line); ``clock`` is
    injected so tests need not wait. Safe to call from the copy's worker threads.
    """

    def __init__(
        self,
        emit: Emit,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        self._emit = emit
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._last: float | None = None
        self._status: Status | None = None
        self._copy_total = 0
        self._copied = 0
        self._scan_phase: str | None = None

    def backup_started(self, source: str, location: str) -> None:
        with self._lock:
            self._status = None
            self._send("backup-started", {"source": source, "location": location})

    def backup_status(self, source: str, status: Status) -> None:
        with self._lock:
            self._status = status
            if self._due():
                self._send("backup-progress", {"source": source, **status_fields(status)})

    def backup_finished(self, source: str) -> None:
        with self._lock:
            status = self._status
            counted = status is not None and (status.total_files or status.bytes_done)
            done = status_fields(status) if counted else {}  # restic's first status counts 0
            self._send("backup-finished", {"source": source, **done})

    def replication_started(self, source: str, total_bytes: int) -> None:
        with self._lock:
            self._copy_total, self._copied = total_bytes, 0
            self._send("replication-started", {"source": source, "total_bytes": total_bytes})

    def replication_bytes(self, source: str, count: int) -> None:
        with self._lock:
            self._copied += count
            if self._due():
                self._send(
                    "replication-progress",
                    {"source": source, "bytes_done": self._copied, "total_bytes": self._copy_total},
                )

    def replication_finished(self, source: str) -> None:
        with self._lock:
            self._send(
                "replication-finished",
                {"source": source, "bytes_done": self._copied, "total_bytes": self._copy_total},
            )

    def scan_progress(self, job: str, phase: str, done: int, total: int) -> None:
        """A media scan's phase (listing, recovering, carving, carved) with its counts: an event
        when the phase starts, then at most one every interval."""
        with self._lock:
            if phase != self._scan_phase or self._due():
                self._scan_phase = phase
                self._send(
                    "scan-progress", {"source": job, "phase": phase, "done": done, "total": total}
                )

    def scan_finished(self, job: str) -> None:
        with self._lock:
            self._scan_phase = None

    def _due(self) -> bool:
        return self._last is None or self._clock() - self._last >= self._interval

    def _send(self, event: str, fields: dict[str, Any]) -> None:
        self._last = self._clock()
        self._emit(event, fields)


def status_fields(status: Status) -> dict[str, Any]:
    """Given a restic status, return its counts and sizes (restic's current file names are left
    out on purpose)."""
    return {
        "percent": status.percent_done,
        "bytes_done": status.bytes_done,
        "total_bytes": status.total_bytes,
        "files_done": status.files_done,
        "total_files": status.total_files,
        "seconds_remaining": status.seconds_remaining,
    }


def describe(event: str, fields: dict[str, Any]) -> str:
    """Given a progress event and its fields, return one line for a log."""
    source = fields["source"]
    sizes = ""
    if "bytes_done" in fields:
        sizes = f"{_size(fields['bytes_done'])} of {_size(fields['total_bytes'])}"
    if "files_done" in fields:
        sizes += f", {fields['files_done']}/{fields['total_files']} files"
    if fields.get("seconds_remaining") is not None and event == "backup-progress":
        sizes += f", about {fields['seconds_remaining']:.0f}s left"
    lines = {
        "backup-started": f"{source}: backup to {fields.get('location')} started",
        "backup-progress": f"{source}: backup {fields.get('percent', 0):.0%}: {sizes}",
        "backup-finished": f"{source}: backup finished" + (f": {sizes}" if sizes else ""),
        "replication-started": f"{source}: copying {_size(fields.get('total_bytes', 0))} "
        "to the other locations",
        "replication-progress": f"{source}: copied {sizes}",
        "replication-finished": f"{source}: copies finished: {sizes}",
        "scan-progress": f"{source}: scan {fields.get('phase')} {fields.get('done')}"
        f"/{fields.get('total')}",
    }
    return lines.get(event, f"{source}: {event}")


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"
