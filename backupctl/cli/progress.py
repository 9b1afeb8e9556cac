"""Progress for long operations: tqdm bars on a TTY, JSON lines with --json, nothing with --quiet."""

from __future__ import annotations

import json
import sys

import tqdm

from backupctl.progress import NoProgress, Progress
from backupctl.restic.messages import Status


class TqdmProgress:
    """Bytes, files, rate and ETA from restic's status lines; bytes for the copy to other locations."""

    def __init__(self) -> None:
        self._bar: tqdm.tqdm | None = None

    def backup_started(self, source: str, location: str) -> None:
        self._bar = tqdm.tqdm(desc=f"{source} → {location}", unit="B", unit_scale=True,
                              unit_divisor=1024, file=sys.stderr, leave=False)

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
        self._bar = tqdm.tqdm(desc=f"{source} copies", total=total_bytes or None, unit="B",
                              unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=False)

    def replication_bytes(self, source: str, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def replication_finished(self, source: str) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class JsonProgress(NoProgress):
    """One JSON object per line on stderr, so stdout keeps only the result."""

    def backup_status(self, source: str, status: Status) -> None:
        _emit({"event": "backup-progress", "source": source, "percent": status.percent_done,
               "bytes_done": status.bytes_done, "total_bytes": status.total_bytes,
               "files_done": status.files_done, "total_files": status.total_files,
               "seconds_remaining": status.seconds_remaining})

    def replication_started(self, source: str, total_bytes: int) -> None:
        _emit({"event": "replication-started", "source": source, "total_bytes": total_bytes})


def _emit(event: dict) -> None:
    sys.stderr.write(json.dumps(event) + "\n")
    sys.stderr.flush()


def choose(*, quiet: bool, as_json: bool) -> Progress:
    if quiet:
        return NoProgress()
    if as_json:
        return JsonProgress()
    return TqdmProgress() if sys.stderr.isatty() else NoProgress()
