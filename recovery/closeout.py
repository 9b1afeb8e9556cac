"""Close-out of a repair job, pure: the outcome, when the workshop's copies go, and which copies.

When a job closes, its ``job.closed`` event records the outcome and the date after which the
workshop's copies of the customer's data are deleted (``delete_after``: the close time plus the
configured number of days, recorded then, so a later change of the setting does not move a
promise already made in a report). The copies are exactly what the job's custody record names:
the image, the mapfile (and ddrescue's ``.bak`` of it, and the run lock) from the imaging
events, every scan output directory from the scan events, and the tape images and extracted
tape files from the tape events. Nothing else is ever a copy. The
clock is a parameter everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import Sequence

from recovery import custody, errors, scan_record
from recovery.custody import CustodyEvent

OUTCOMES = {
    "returned": "the medium was returned to the customer without recovery",
    "recovered": "data was recovered and handed to the customer",
    "unrecoverable": "no data could be recovered",
    "declined": "the customer declined the recovery",
}
DEFAULT_KEPT_DAYS = 30
MAX_KEPT_DAYS = 3650
DESTROYED = "copies.destroyed"
IMAGE_KINDS = ("image.started", "image.finished")
TAPE_KINDS = ("tape.started", "tape.finished")


@dataclasses.dataclass(frozen=True)
class Copy:
    """One of the workshop's copies: what it is, where, and its hash when imaging recorded one."""

    what: str  # image, mapfile, mapfile backup, imaging lock, recovered files
    path: pathlib.Path
    recorded_sha256: str | None = None
    directory: bool = False


def check_outcome(outcome: str) -> str:
    """Given an outcome from outside, return it; raise InvalidRequest for an unknown one."""
    if outcome not in OUTCOMES:
        raise errors.InvalidRequest(f"outcome {outcome[:40]!r} is not one of {', '.join(OUTCOMES)}")
    return outcome


def check_kept_days(days: int) -> int:
    """Given the configured days, return them; raise InvalidRequest outside 0..3650."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_KEPT_DAYS:
        raise errors.InvalidRequest(f"copies are kept 0 to {MAX_KEPT_DAYS} days, not {days!r}")
    return days


def parse_time(text: str) -> datetime.datetime:
    """Given an ISO-8601 time (a date alone means its midnight UTC; no zone means UTC), return
    it aware; raise InvalidRequest when malformed."""
    try:
        value = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise errors.InvalidRequest(f"{text[:40]!r} is not an ISO-8601 date or time") from None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def close_details(outcome: str, *, closed_at: str, kept_days: int) -> dict:
    """Given the outcome, the close time and the days copies are kept, return the details of
    the ``job.closed`` event."""
    delete_after = parse_time(closed_at) + datetime.timedelta(days=check_kept_days(kept_days))
    return {
        "outcome": check_outcome(outcome),
        "copies_kept_days": kept_days,
        "delete_after": delete_after.isoformat(timespec="seconds"),
    }


def closed_event(events: Sequence[CustodyEvent]) -> CustodyEvent | None:
    return next((event for event in events if event.kind == custody.JOB_CLOSED), None)


def due(events: Sequence[CustodyEvent], *, kept_days: int) -> datetime.datetime | None:
    """Given a job's events, return when its copies are due for deletion (None while open).

    A job closed before close-out existed has no ``delete_after``: close time + ``kept_days``.
    """
    closed = closed_event(events)
    if closed is None:
        return None
    recorded = closed.details.get("delete_after")
    if isinstance(recorded, str):
        return parse_time(recorded)
    return parse_time(closed.at) + datetime.timedelta(days=kept_days)


def completed_destruction(events: Sequence[CustodyEvent]) -> CustodyEvent | None:
    """Return the destruction record that deleted (or found gone) every copy, None if none."""
    for event in reversed(events):
        if event.kind == DESTROYED and not event.details.get("failed"):
            return event
    return None


def copies(events: Sequence[CustodyEvent]) -> tuple[Copy, ...]:
    """Given a job's events, return the workshop's copies its custody record names, once each."""
    found: dict[pathlib.Path, Copy] = {}
    digests = {
        event.details.get("paths", {}).get("image"): event.details.get("sha256")
        for event in events
        if event.kind == "image.finished"
    }
    for event in events:
        if event.kind not in IMAGE_KINDS or not isinstance(event.details.get("paths"), dict):
            continue
        image, mapfile = event.details["paths"].get("image"), event.details["paths"].get("mapfile")
        if isinstance(image, str) and image.startswith("/"):
            path = pathlib.Path(image)
            found.setdefault(path, Copy("image", path, digests.get(image)))
            lock = path.with_name(f".{path.stem}.lock")
            found.setdefault(lock, Copy("imaging lock", lock))
        if isinstance(mapfile, str) and mapfile.startswith("/"):
            path = pathlib.Path(mapfile)
            found.setdefault(path, Copy("mapfile", path))
            backup = pathlib.Path(mapfile + ".bak")
            found.setdefault(backup, Copy("mapfile backup", backup))
    manifests = {
        scan_record.output_dir(event): event.details.get("manifest_sha256")
        for event in events
        if event.kind in scan_record.FINISHED_KINDS
    }
    for folder in scan_record.scan_dirs(events):
        digest = manifests.get(str(folder))
        found.setdefault(folder, Copy("recovered files", folder, digest, directory=True))
    for copy in _tape_copies(events):
        found.setdefault(copy.path, copy)
    return tuple(found.values())


def _tape_copies(events: Sequence[CustodyEvent]) -> list[Copy]:
    """Given a job's events, return the tape images (and their locks) and the tape files
    extracted for the job (``tape extract --job``), as their events recorded them."""
    result = []
    for event in events:
        if event.kind in TAPE_KINDS and isinstance(event.details.get("paths"), dict):
            image = event.details["paths"].get("image")
            if _absolute(image):
                digest = event.details.get("sha256") if event.kind == "tape.finished" else None
                result.append(Copy("tape image", pathlib.Path(image), digest))
                result.append(Copy("tape image lock", pathlib.Path(image + ".lock")))
        if event.kind == "tape.extracted":
            data = event.details.get("data")
            if _absolute(data):
                result.append(Copy("extracted tape file", pathlib.Path(data)))
            unpacked = event.details.get("unpacked")
            folder = unpacked.get("folder") if isinstance(unpacked, dict) else None
            if _absolute(folder):
                result.append(Copy("unpacked tape file", pathlib.Path(folder), directory=True))
    digests = {copy.path: copy.recorded_sha256 for copy in result if copy.recorded_sha256}
    return [dataclasses.replace(c, recorded_sha256=digests.get(c.path)) for c in result]


def _absolute(value: object) -> bool:
    return isinstance(value, str) and value.startswith("/")


def deletion_text(events: Sequence[CustodyEvent], *, kept_days: int, now: datetime.datetime) -> str:
    """Given a job's events and the time, return one sentence on when its copies are deleted."""
    done = completed_destruction(events)
    if done is not None:
        return f"The workshop's copies were deleted on {done.at}."
    attempts = [event for event in events if event.kind == DESTROYED]
    if attempts:
        return (
            f"Deletion of the workshop's copies on {attempts[-1].at} is incomplete:"
            f" {attempts[-1].details.get('failed')} item(s) could not be deleted (see the custody"
            " trail); deletion is pending and the next purge tries again."
        )
    when = due(events, kept_days=kept_days)
    if when is None:
        return (
            f"The job is open; the workshop's copies (image, mapfile, recovered files) are"
            f" deleted {kept_days} days after the job is closed."
        )
    stamp = when.isoformat(timespec="seconds")
    if when > now:
        days = (when - now).days
        return f"The workshop's copies are to be deleted after {stamp} (in {days} days)."
    return f"The workshop's copies were due for deletion after {stamp}; deletion is pending."
