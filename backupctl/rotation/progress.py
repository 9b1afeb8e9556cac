"""How rotation reports its long steps (forget, prune): an injected object, as for backup.

The CLI supplies a tqdm spinner on a TTY, log lines without one, JSON lines with --json, and
nothing with --quiet. restic's prune lines name phases and counts, never files (clause 10.9).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from backupctl.progress import PROGRESS_INTERVAL_SECONDS


class StepProgress(Protocol):
    def step_started(self, source: str, location: str, step: str) -> None: ...

    def step_line(self, source: str, line: str) -> None: ...

    def step_finished(self, source: str, location: str, step: str) -> None: ...


class NoSteps:
    """Reports nothing (quiet runs, tests)."""

    def step_started(self, source: str, location: str, step: str) -> None:
        pass

    def step_line(self, source: str, line: str) -> None:
        pass

    def step_finished(self, source: str, location: str, step: str) -> None:
        pass


class PeriodicSteps:
    """An event at the start and end of each step, and at most one restic line every
    ``interval`` seconds in between; ``emit`` writes it (a log line, or a JSON line)."""

    def __init__(
        self,
        emit: Callable[[str, dict[str, Any]], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        self._emit = emit
        self._clock = clock
        self._interval = interval
        self._last: float | None = None

    def step_started(self, source: str, location: str, step: str) -> None:
        self._send("rotation-step-started", {"source": source, "location": location, "step": step})

    def step_line(self, source: str, line: str) -> None:
        text = line.strip()
        if text and (self._last is None or self._clock() - self._last >= self._interval):
            self._send("rotation-step-progress", {"source": source, "restic": text[:200]})

    def step_finished(self, source: str, location: str, step: str) -> None:
        self._send("rotation-step-finished", {"source": source, "location": location, "step": step})

    def _send(self, event: str, fields: dict[str, Any]) -> None:
        self._last = self._clock()
        self._emit(event, fields)
