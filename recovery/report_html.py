"""The customer's recovery report: one self-contained HTML page, rendered purely from values.

No external resource of any kind (inline CSS, inline SVG, no script, no link, no image URL), so
the file opens the same anywhere, offline, years later. Everything taken from the job or the
image (customer name, notes, device model and serial, file names from the customer's medium)
is untrusted: it passes through ``_text`` (HTML escaping with quotes, control and format
characters shown as escapes) before it reaches the page. The only markup not built here is the
sector map SVG, which holds numbers and fixed colours only.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Sequence

from recovery import custody_text, recovered_files, report_facts, sector_map
from recovery.custody import CustodyEvent
from recovery.jobs import Job
from recovery.mapfile import BlockStatus, Mapfile
from recovery.recovered_files import ScanResults

MAX_LISTED_FILES = 2000
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
MAX_LISTED_DAMAGED = 2000

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}
th{background:#eee}
.mono{font-family:"DejaVu Sans Mono",monospace;word-break:break-all;display:inline-block;width:12em}
table.files{width:100%}
table.file-summary th{background:#c9dcf0} .damaged{background:#fde4e4}
.warn{color:#a00000;font-weight:bold} .note{color:#555}
.legend span.swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;
vertical-align:middle;border:1px solid #666}
"""


@dataclasses.dataclass(frozen=True)
class ReportInput:
    """Everything the report shows, gathered by the action; rendering adds nothing."""

    job: Job
    events: tuple[CustodyEvent, ...]
    chain_verifies: bool
    chain_explanation: str
    mapfile: Mapfile | None
    mapfile_note: str
    scan: ScanResults
    deletion: str
    generated_at: str


def _text(value: object, empty: str = "-") -> str:
    """Given any value, return it escaped for HTML text and attributes, hidden characters shown."""
    if value is None or value == "":
        return empty
    shown = "".join(
        character
        if character.isprintable() or character == " "
        else _NAMED.get(character, f"\\u{ord(character):04x}")
        for character in str(value)
    )
    return html.escape(shown, quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, css: str = "") -> str:
    """Given header texts (plain) and rows of cells (already HTML), return a table."""
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    body = "".join(_row(cells) for cells in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _row(cells: Sequence[str], css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<tr{attribute}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _pairs(pairs: Iterable[tuple[str, object]]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{_text(value)}</td></tr>" for key, value in pairs
    )
    return f"<table>{rows}</table>"


def _job_section(data: ReportInput) -> str:
    job = data.job
    outcome, closed_at = report_facts.closing(data.events)
    return "<h2>Job</h2>" + _pairs(
        (
            ("job", job.job_id),
            ("customer", job.customer),
            ("consent reference", job.consent_ref),
            ("ticket", job.ticket),
            ("what the customer reported", job.note),
            ("opened", job.opened_at),
            ("closed", closed_at or "still open"),
            ("outcome", outcome or "-"),
        )
    )


def _medium_section(job: Job) -> str:
    medium = job.medium
    if medium is None:
        return "<h2>Medium</h2><p>No medium was attached to this job.</p>"
    return "<h2>Medium</h2>" + _pairs(
        (
            ("kind", medium.kind),
            ("model", medium.model),
            ("serial number", medium.serial),
            ("size", custody_text.size_text(medium.size_bytes)),
            ("sector size", f"{medium.logical_sector_size} / {medium.physical_sector_size} bytes"),
        )
    )


def _imaging_section(events: Sequence[CustodyEvent]) -> str:
    runs = report_facts.imaging_runs(events)
    if not runs:
        return "<h2>Imaging</h2><p>The medium has not been imaged.</p>"
    rows = [
        (
            str(number),
            _text(run.started_at),
            _text(run.ended_at),
            _text(run.duration),
            _text(run.result),
            _text(", ".join(run.phases)),
            _text(f"{'resumed; ' if run.resumed else ''}ddrescue {run.ddrescue_version}"),
        )
        for number, run in enumerate(runs, start=1)
    ]
    headers = ("pass", "started", "ended", "duration", "result", "phases", "tool")
    text = "<h2>Imaging</h2>" + _table(headers, rows)
    hashes = report_facts.image_hashes(events)
    if hashes is None:
        return text + "<p>No imaging run finished: the image has no final hashes.</p>"
    verified = "; ".join(
        f"{when}: {'matches' if matched else 'DOES NOT MATCH'}" for when, matched in hashes.verified
    )
    return text + _pairs(
        (
            ("image size", custody_text.size_text(hashes.size)),
            ("image SHA-256", hashes.sha256),
            ("image MD5", hashes.md5),
            ("later re-hash", verified or "not re-hashed since"),
        )
    )


def _map_section(data: ReportInput) -> str:
    if data.mapfile is None:
        return f"<h2>Sector map</h2><p>{_text(data.mapfile_note)}</p>"
    totals = data.mapfile.totals()
    sizes = {
        BlockStatus.FINISHED: totals.rescued,
        BlockStatus.BAD_SECTOR: totals.bad_sector,
        BlockStatus.NON_TRIED: totals.non_tried,
        BlockStatus.NON_TRIMMED: totals.non_trimmed,
        BlockStatus.NON_SCRAPED: totals.non_scraped,
    }
    legend = "".join(
        f'<span class="swatch" style="background:{sector_map.COLOURS[status]}"></span>'
        f"{html.escape(sector_map.LABELS[status])}: {_text(custody_text.size_text(size))}"
        for status, size in sizes.items()
    )
    summary = (
        f"<p>{totals.percent_rescued:.2f}% of {_text(custody_text.size_text(totals.domain_size))}"
        f" rescued; {totals.bad_areas} bad area(s). Each square is 1/1024 of the medium and"
        " shows the worst state inside it; the bar below is the medium from start to end.</p>"
    )
    return (
        '<h2>Sector map</h2><div id="sector-map">'
        + sector_map.svg(data.mapfile)
        + f'</div><p class="legend">{legend}</p>'
        + summary
    )


def _volumes_section(scan: ScanResults) -> str:
    if scan.state != "ok":
        return ""
    if not scan.volumes:
        return "<h2>Partitions and file systems</h2><p>None found: files were carved.</p>"
    keys = list(dict.fromkeys(key for volume in scan.volumes for key in volume))[:8]
    rows = [[_text(volume.get(key)) for key in keys] for volume in scan.volumes]
    return "<h2>Partitions and file systems</h2>" + _table([str(key) for key in keys], rows)


def _files_section(scan: ScanResults) -> str:
    title = "<h2>Recovered files</h2>"
    if scan.state != "ok":
        css = "" if scan.state == "none" else ' class="warn"'
        return title + f"<p{css}>{_text(scan.message)}</p>"
    headers = ("type", *recovered_files.ORIGINS, "damaged", "total size")
    rows = [
        (
            _text(kind),
            *(str(counts[origin]) for origin in recovered_files.ORIGINS),
            str(damaged),
            _text(custody_text.size_text(size)),
        )
        for kind, counts, damaged, size in recovered_files.by_kind(scan.files)
    ]
    text = title + f"<p>{_text(scan.message)}.</p>"
    text += '<div id="file-table">' + _table(headers, rows, css="file-summary") + "</div>"
    if scan.skipped:
        text += f'<p class="warn">{scan.skipped} malformed manifest entries left out.</p>'
    return text + _damaged_list(scan) + _file_list(scan)


def _damaged_list(scan: ScanResults) -> str:
    damaged = scan.damaged
    if not damaged:
        return "<h3>Damaged files</h3><p>None: no recovered file touches an unreadable area.</p>"
    rows = [
        (_text(item.path), _text(item.original_path), str(item.damaged_bytes), str(item.size))
        for item in damaged[:MAX_LISTED_DAMAGED]
    ]
    text = (
        f'<h3>Damaged files</h3><p class="warn">{len(damaged)} file(s) contain bytes from'
        " unreadable or unread areas of the medium; their content may be wrong there.</p>"
    )
    return text + _table(("file", "original path", "damaged bytes", "size"), rows, css="damaged")


def _file_list(scan: ScanResults) -> str:
    rows = []
    for item in scan.files[:MAX_LISTED_FILES]:
        times = ", ".join(f"{key} {value}" for key, value in item.times)
        cells = (
            _text(item.path),
            _text(item.original_path),
            _text(item.origin),
            _text(item.kind),
            str(item.size),
            str(item.damaged_bytes) if item.damaged_bytes else "0",
            _text(times),
            f'<span class="mono">{_text(item.sha256)}</span>',
        )
        rows.append(_row(cells, "damaged" if item.damaged_bytes else ""))
    more = len(scan.files) - len(rows)
    note = f'<p class="note">{more} more listed in manifest.csv.</p>' if more > 0 else ""
    headers = (
        "file",
        "original path",
        "state",
        "type",
        "bytes",
        "damaged bytes",
        "times",
        "SHA-256",
    )
    head = "".join(f"<th>{header}</th>" for header in headers)
    return f'<h3>All files</h3><table class="files"><tr>{head}</tr>{"".join(rows)}</table>{note}'


def _custody_section(data: ReportInput) -> str:
    rows = [
        (
            str(event.sequence),
            _text(event.at),
            _text(f"{event.actor}@{event.host}"),
            _text(custody_text.describe(event)),
        )
        for event in data.events
    ]
    verdict = (
        f"<p>Tamper check: {_text(data.chain_explanation)}.</p>"
        if data.chain_verifies
        else f'<p class="warn">Tamper check FAILED: {_text(data.chain_explanation)}.</p>'
    )
    return "<h2>Custody trail</h2>" + _table(("#", "when (UTC)", "who", "what"), rows) + verdict


def render(data: ReportInput) -> str:
    """Given the report's values, return the whole HTML document as text."""
    sections = (
        _job_section(data),
        _medium_section(data.job),
        _imaging_section(data.events),
        _map_section(data),
        _volumes_section(data.scan),
        _files_section(data.scan),
        f"<h2>Copies held by the workshop</h2><p>{_text(data.deletion)}</p>",
        _custody_section(data),
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Recovery report {_text(data.job.job_id)}</title>"
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'\">"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Data recovery report: job {_text(data.job.job_id)}</h1>"
        f'<p class="note">Generated {_text(data.generated_at)} (UTC).</p>'
        + "".join(sections)
        + "</body></html>\n"
    )
