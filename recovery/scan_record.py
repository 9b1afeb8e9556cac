"""The custody record of a scan: the one place that writes and finds scan events.

``media scan J --to DIR`` records a scan event whose details hold at least the output directory
(absolute), ``manifest_sha256`` (SHA-256 of ``DIR/manifest.json`` as written) and ``counts``
(files per origin); the scan may add more (tool versions, partitions). Two shapes are read, so
that the report and close-out work with either until the two are one: kind ``scan`` with the
directory under ``to`` (``record_scan`` below), and kind ``scan.finished`` (or ``scan.failed``)
with it under ``output``. The report reads the latest finished scan through ``latest_scan``;
close-out deletes every directory ``scan_dirs`` lists (a failed scan's too: it may have written
part of its files), and nothing else, so a scan must be recorded to be cleaned up.
"""

from __future__ import annotations

import os
import pathlib
import re

from recovery import errors
from recovery.custody import CustodyEvent
from recovery.jobs import JobStore

SCAN = "scan"
FINISHED_KINDS = (SCAN, "scan.finished")
OUTPUT_KINDS = (*FINISHED_KINDS, "scan.failed")
MANIFEST_NAME = "manifest.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def record_scan(
    store: JobStore,
    job_id: str,
    *,
    to: pathlib.Path,
    manifest_sha256: str,
    counts: dict[str, int],
    actor: str,
    host: str,
    extra: dict | None = None,
) -> CustodyEvent:
    """Record a finished scan on an open job and return the event; raise InvalidRequest for a
    relative output directory or a malformed digest, JobClosedError for a closed job."""
    if not os.path.isabs(to):
        raise errors.InvalidRequest(f"scan output directory {to} is not an absolute path")
    if not _SHA256.fullmatch(manifest_sha256):
        raise errors.InvalidRequest("manifest_sha256 is not a lower-case SHA-256 hex digest")
    details = {
        **(extra or {}),
        "to": os.path.normpath(to),
        "manifest_sha256": manifest_sha256,
        "counts": dict(counts),
    }
    return store.record_event(job_id, kind=SCAN, actor=actor, host=host, details=details)


def output_dir(event: CustodyEvent) -> str | None:
    """Given a scan event, return its output directory as recorded (``to`` or ``output``)."""
    value = event.details.get("to", event.details.get("output"))
    return value if isinstance(value, str) else None


def latest_scan(events: list[CustodyEvent] | tuple[CustodyEvent, ...]) -> CustodyEvent | None:
    """Given a job's events, return its latest finished scan, None when it was never scanned."""
    scans = [event for event in events if event.kind in FINISHED_KINDS]
    return scans[-1] if scans else None


def scan_dirs(events: list[CustodyEvent] | tuple[CustodyEvent, ...]) -> tuple[pathlib.Path, ...]:
    """Given a job's events, return every scan output directory recorded, once each, in order."""
    found = [output_dir(event) for event in events if event.kind in OUTPUT_KINDS]
    usable = [path for path in found if path and os.path.isabs(path)]
    return tuple(pathlib.Path(path) for path in dict.fromkeys(usable))
