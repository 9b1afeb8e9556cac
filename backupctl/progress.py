"""How actions report progress: an injected object, so actions never print or import tqdm.

The CLI supplies a tqdm implementation on a TTY, JSON lines with --json, or nothing with --quiet.
"""

from __future__ import annotations

from typing import Protocol

from backupctl.restic.messages import Status


class Progress(Protocol):
    def backup_started(self, source: str, location: str) -> None: ...

    def backup_status(self, source: str, status: Status) -> None: ...

    def backup_finished(self, source: str) -> None: ...

    def replication_started(self, source: str, total_bytes: int) -> None: ...

    def replication_bytes(self, source: str, count: int) -> None: ...

    def replication_finished(self, source: str) -> None: ...


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
