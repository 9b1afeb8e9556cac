"""Custody events as readable sentences: one pure formatter per event kind, for people.

``job show`` prints these lines and the HTML report lists them; ``--json`` keeps the raw
details. The text holds values recorded from outside (customer names, notes, device models), so
every caller escapes it for its medium (``shown`` on a terminal, HTML escaping in the report).
An event kind without a formatter is shown as its details in ``key=value`` form, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from recovery.custody import CustodyEvent
from recovery.devices import describe_size

_Formatter = Callable[[dict], str]


def describe(event: CustodyEvent) -> str:
    """Given a custody event, return one readable line saying what happened (no who or when)."""
    formatter = _FORMATTERS.get(event.kind)
    if formatter is None:
        return f"{event.kind}: {_generic(event.details)}"
    try:
        return formatter(event.details)
    except (KeyError, TypeError, ValueError, AttributeError):  # an older or odd record
        return f"{event.kind}: {_generic(event.details)}"


def size_text(value: object) -> str:
    """Given a byte count (or anything else), return it as '1.5 GB (1500000000 bytes)'."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return f"{describe_size(value)} ({value} bytes)"
    return "unknown size"


def _generic(details: dict) -> str:
    if not details:
        return "(no details)"
    parts = []
    for key in sorted(details)[:12]:
        value = details[key]
        text = value if isinstance(value, str) else repr(value)
        parts.append(f"{key}={text[:120]}")
    return ", ".join(parts)


def _opened(details: dict) -> str:
    text = f"job opened for customer {details['customer']}, consent {details['consent_ref']}"
    if details.get("ticket"):
        text += f", ticket {details['ticket']}"
    if details.get("note"):
        text += f"; note: {details['note']}"
    return text


def _attached(details: dict) -> str:
    medium = details["medium"]
    verb = "medium attached again" if details.get("reattached") else "medium attached"
    text = (
        f"{verb}: {medium.get('model') or 'unknown model'}, serial "
        f"{medium.get('serial') or 'unknown'}, {size_text(medium.get('size_bytes'))}, "
        f"at {medium.get('node')}"
    )
    if details.get("allowed_system_device"):
        text += " (a system device, attached at the technician's insistence)"
    return text


def _image_started(details: dict) -> str:
    mode = "resumed" if details.get("resume") else "started"
    runs = ", ".join(details.get("runs") or ()) or "no runs"
    version = details.get("ddrescue_version") or "?"
    return (
        f"imaging {mode} from {details['device']} to {details['paths']['image']}"
        f" (ddrescue {version}; runs: {runs})"
    )


def _totals_text(totals: dict) -> str:
    rescued = totals.get("rescued", 0)
    domain = totals.get("domain_size", 0)
    percent = 100.0 * rescued / domain if domain else 100.0
    text = f"{percent:.2f}% rescued"
    if totals.get("bad_sector"):
        text += f", {size_text(totals['bad_sector'])} unreadable in {totals['bad_areas']} area(s)"
    untried = sum(totals.get(key, 0) for key in ("non_tried", "non_trimmed", "non_scraped"))
    if untried:
        text += f", {size_text(untried)} not yet read"
    return text


def _image_finished(details: dict) -> str:
    return (
        f"imaging finished: {_totals_text(details['totals'])}; image "
        f"{size_text(details.get('size'))}, SHA-256 {details.get('sha256')},"
        f" MD5 {details.get('md5')}"
    )


def _image_stopped(kind: str) -> _Formatter:
    def formatter(details: dict) -> str:
        text = f"imaging {kind}: {details['reason']}"
        if details.get("totals"):
            text += f" ({_totals_text(details['totals'])} so far)"
        return text

    return formatter


def _image_refused(details: dict) -> str:
    return f"imaging of {details['device']} refused: " + "; ".join(details["reasons"])


def _image_verified(details: dict) -> str:
    if details.get("match"):
        return f"image re-hashed and matches its record (SHA-256 {details.get('sha256')})"
    return "image re-hashed and does NOT match its record: " + "; ".join(details["differences"])


def _scan(details: dict) -> str:
    counts = details.get("counts") or {}
    listed = ", ".join(f"{value} {key}" for key, value in sorted(counts.items()))
    folder = details.get("output")
    return (
        f"image scanned, recovered files written to {folder}"
        f" ({listed or 'no counts'}); manifest SHA-256 {details['manifest_sha256']}"
    )


def _scan_failed(details: dict) -> str:
    return f"scan into {details['output']} failed: {details['reason']}"


def _browsed(details: dict) -> str:
    return f"file systems on the image browsed at {details['path']} ({details['files']} entries)"


def _report(details: dict) -> str:
    return f"report written to {details['path']} (SHA-256 {details['sha256']})"


def _closed(details: dict) -> str:
    outcome = details.get("outcome")
    text = f"job closed, outcome: {outcome}" if outcome else "job closed"
    if details.get("delete_after"):
        text += (
            f"; the workshop's copies are to be deleted after {details['delete_after']}"
            f" ({details.get('copies_kept_days')} days)"
        )
    return text


def _destroyed(details: dict) -> str:
    items = details.get("items") or []
    deleted = [item for item in items if item.get("result") == "deleted"]
    total = sum(item.get("size") or 0 for item in deleted)
    text = f"workshop copies deleted: {len(deleted)} of {len(items)} item(s), {size_text(total)}"
    failed = [item for item in items if item.get("result") not in ("deleted", "already gone")]
    if failed:
        text += "; NOT deleted: " + "; ".join(
            f"{item.get('path')}: {item.get('result')}" for item in failed
        )
    return text


_FORMATTERS: dict[str, _Formatter] = {
    "job.opened": _opened,
    "medium.attached": _attached,
    "note.added": lambda details: f"note: {details['text']}",
    "image.started": _image_started,
    "image.finished": _image_finished,
    "image.interrupted": _image_stopped("interrupted"),
    "image.failed": _image_stopped("failed"),
    "image.refused": _image_refused,
    "image.verified": _image_verified,
    "scan.finished": _scan,
    "scan.failed": _scan_failed,
    "scan.browsed": _browsed,
    "report.written": _report,
    "job.closed": _closed,
    "copies.destroyed": _destroyed,
}
