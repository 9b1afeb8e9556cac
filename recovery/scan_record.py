"""Finding the scans in a job's custody record (the scan writes them: backupctl/actions/scan.py).

``media scan J --to DIR`` records ``scan.finished`` (or ``scan.failed``, ``scan.interrupted``)
whose details hold the output directory (absolute) under ``output``, ``manifest_sha256``
(SHA-256 of ``DIR/manifest.json`` as written) and ``counts`` (files per origin), with tool
versions and more. The report reads the latest finished scan through ``latest_scan``;
close-out deletes every directory ``scan_dirs`` lists (a failed scan's too: it may have written
part of its files), and nothing else, so a scan must be recorded to be cleaned up.
"""

from __future__ import annotations

import os
import pathlib
import re

from recovery.custody import CustodyEvent

FINISHED_KINDS = ("scan.finished",)
OUTPUT_KINDS = (*FINISHED_KINDS, "scan.failed", "scan.interrupted")
MANIFEST_NAME = "manifest.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def output_dir(event: CustodyEvent) -> str | None:
    """Given a scan event, return its output directory as recorded."""
    value = event.details.get("output")
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
