"""Parse the JSON lines restic prints with --json (backup status/summary/error, snapshots)."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
from typing import Any


@dataclasses.dataclass(frozen=True)
class Status:
    percent_done: float
    total_files: int
    files_done: int
    total_bytes: int
    bytes_done: int
    seconds_elapsed: float
    seconds_remaining: float | None


@dataclasses.dataclass(frozen=True)
class Summary:
    snapshot_id: str | None
    files_new: int
    files_changed: int
    files_unmodified: int
    data_added: int
    total_files_processed: int
    total_bytes_processed: int
    total_duration: float


@dataclasses.dataclass(frozen=True)
class ItemError:
    item: str
    during: str
    message: str


@dataclasses.dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: str
    hostname: str
    paths: tuple[str, ...]
    tags: tuple[str, ...]


def parse_backup_line(line: str) -> Status | Summary | ItemError | None:
    """Given one stdout line of `restic backup --json`, return its message, or None for others."""
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    try:
        return _backup_message(message)
    except (TypeError, ValueError):  # a known message type with fields of the wrong type
        return None


def _backup_message(message: dict[str, Any]) -> Status | Summary | ItemError | None:
    kind = message.get("message_type")
    if kind == "status":
        return Status(
            percent_done=float(message.get("percent_done", 0.0)),
            total_files=int(message.get("total_files", 0)),
            files_done=int(message.get("files_done", 0)),
            total_bytes=int(message.get("total_bytes", 0)),
            bytes_done=int(message.get("bytes_done", 0)),
            seconds_elapsed=float(message.get("seconds_elapsed", 0)),
            seconds_remaining=_optional_float(message.get("seconds_remaining")),
        )
    if kind == "summary":
        return _summary(message)
    if kind == "error":
        return ItemError(
            item=str(message.get("item", "")),
            during=str(message.get("during", "")),
            message=_error_text(message.get("error")),
        )
    return None


def _error_text(error: Any) -> str:
    """restic >= 0.15 sends {"message": ...}; 0.14 sends Go's *PathError as {"Op", "Path",
    "Err"}."""
    if not isinstance(error, dict):
        return str(error or "")
    if "message" in error:
        return str(error["message"])
    if isinstance(error.get("Err"), int):
        return f"{error.get('Op', '')} {error.get('Path', '')}: {os.strerror(error['Err'])}".strip()
    return json.dumps(error, sort_keys=True)


def _optional_float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _summary(message: dict[str, Any]) -> Summary:
    return Summary(
        snapshot_id=message.get("snapshot_id"),
        files_new=int(message.get("files_new", 0)),
        files_changed=int(message.get("files_changed", 0)),
        files_unmodified=int(message.get("files_unmodified", 0)),
        data_added=int(message.get("data_added", 0)),
        total_files_processed=int(message.get("total_files_processed", 0)),
        total_bytes_processed=int(message.get("total_bytes_processed", 0)),
        total_duration=float(message.get("total_duration", 0.0)),
    )


def parse_snapshots(text: str) -> list[Snapshot]:
    """Given the stdout of `restic snapshots --json`, return the snapshots, oldest first."""
    entries = json.loads(text.strip() or "[]") or []
    snapshots = [
        Snapshot(
            id=entry["id"],
            short_id=entry.get("short_id", entry["id"][:8]),
            time=entry["time"],
            hostname=entry.get("hostname", ""),
            paths=tuple(entry.get("paths") or ()),
            tags=tuple(entry.get("tags") or ()),
        )
        for entry in entries
    ]
    return sorted(snapshots, key=lambda snapshot: parse_time(snapshot.time))


def parse_time(text: str) -> datetime.datetime:
    """Given a restic timestamp (nanoseconds, any offset), return an aware datetime."""
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not match:
        raise ValueError(f"not a restic timestamp: {text!r}")
    fraction = (match.group(2) or ".0")[:7]
    offset = match.group(3) or "+00:00"
    return datetime.datetime.fromisoformat(
        match.group(1) + fraction + offset.replace("Z", "+00:00")
    )


# The summary restic prune prints (0.14 to 0.18 alike): "to delete:   3 blobs / 541 B".
PRUNE_SUMMARY_KEYS = ("to repack", "this removes", "to delete", "total prune", "remaining")
PRUNE_LINE = re.compile(r"^(?P<key>[a-z ]+):\s+(?P<blobs>\d+) blobs / (?P<size>.+?)\s*$")


@dataclasses.dataclass(frozen=True)
class PruneSummary:
    """What restic prune said it removes and keeps: blob counts and sizes as restic printed
    them, by key (``total prune``, ``remaining``, ...)."""

    blobs: dict[str, int]
    sizes: dict[str, str]

    def describe(self) -> str:
        return ", ".join(
            f"{key} {self.blobs[key]} blobs / {self.sizes[key]}"
            for key in ("total prune", "remaining")
            if key in self.blobs
        )


def parse_prune_output(text: str) -> PruneSummary:
    """Given the stdout of `restic prune`, return its summary (empty when it printed none)."""
    blobs: dict[str, int] = {}
    sizes: dict[str, str] = {}
    for line in text.splitlines():
        match = PRUNE_LINE.match(line.strip())
        if match and match.group("key") in PRUNE_SUMMARY_KEYS:
            blobs[match.group("key")] = int(match.group("blobs"))
            sizes[match.group("key")] = match.group("size")
    return PruneSummary(blobs, sizes)
