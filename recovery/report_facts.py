"""What the report says about imaging, taken from the custody events: runs, durations, hashes.

Pure: each ``image.started`` event opens a run, the next ``image.finished``, ``image.interrupted``
or ``image.failed`` ends it; a run with no end is shown as not ended (a crash, or still running).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence

from recovery.custody import CustodyEvent

ENDS = {"image.finished": "finished", "image.interrupted": "interrupted", "image.failed": "failed"}


@dataclasses.dataclass(frozen=True)
class ImagingRun:
    started_at: str
    ended_at: str | None
    result: str  # finished, interrupted, failed, not ended
    phases: tuple[str, ...]
    resumed: bool
    ddrescue_version: str
    duration: str


@dataclasses.dataclass(frozen=True)
class ImageHashes:
    size: int | None
    md5: str | None
    sha256: str | None
    verified: tuple[tuple[str, bool], ...]  # (when, matched) of every later re-hash


def duration_text(start: str | None, end: str | None) -> str:
    """Given two ISO-8601 times, return the time between them as '1 h 02 min 03 s'."""
    try:
        seconds = int(
            (
                datetime.datetime.fromisoformat(str(end))
                - datetime.datetime.fromisoformat(str(start))
            ).total_seconds()
        )
    except (TypeError, ValueError):
        return "unknown"
    if seconds < 0:
        return "unknown"
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {seconds:02d} s"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def imaging_runs(events: Sequence[CustodyEvent]) -> tuple[ImagingRun, ...]:
    """Given a job's events, return its imaging runs in order."""
    found: list[ImagingRun] = []
    pending: CustodyEvent | None = None
    for event in [*events, None]:
        if pending is not None and (event is None or event.kind in (*ENDS, "image.started")):
            found.append(_run(pending, event if event and event.kind in ENDS else None))
            pending = None
        if event is not None and event.kind == "image.started":
            pending = event
    return tuple(found)


def _run(started: CustodyEvent, end: CustodyEvent | None) -> ImagingRun:
    details = started.details
    start_at = str(details.get("started_at") or started.at)
    if end is None:
        end_at, result = None, "not ended"
    else:
        end_at = str(end.details.get("finished_at") or end.details.get("at") or end.at)
        result = ENDS[end.kind]
    return ImagingRun(
        started_at=start_at,
        ended_at=end_at,
        result=result,
        phases=tuple(str(phase) for phase in details.get("runs") or ()),
        resumed=bool(details.get("resume")),
        ddrescue_version=str(details.get("ddrescue_version") or "?"),
        duration=duration_text(start_at, end_at) if end_at else "-",
    )


def image_hashes(events: Sequence[CustodyEvent]) -> ImageHashes | None:
    """Given a job's events, return the hashes of the last finished image, None without one."""
    finished = [event for event in events if event.kind == "image.finished"]
    if not finished:
        return None
    details = finished[-1].details
    verified = tuple(
        (event.at, bool(event.details.get("match")))
        for event in events
        if event.kind == "image.verified" and event.sequence > finished[-1].sequence
    )
    size = details.get("size")
    return ImageHashes(
        size=size if isinstance(size, int) else None,
        md5=details.get("md5"),
        sha256=details.get("sha256"),
        verified=verified,
    )


def mapfile_path(events: Sequence[CustodyEvent]) -> str | None:
    """Given a job's events, return the mapfile of its last imaging run, None when never imaged."""
    for event in reversed(events):
        paths = event.details.get("paths") if event.kind.startswith("image.") else None
        if isinstance(paths, dict) and isinstance(paths.get("mapfile"), str):
            return paths["mapfile"]
    return None


def closing(events: Sequence[CustodyEvent]) -> tuple[str | None, str | None]:
    """Return (outcome, closed at) from the job.closed event, (None, None) while open."""
    for event in events:
        if event.kind == "job.closed":
            return event.details.get("outcome"), event.at
    return None, None
