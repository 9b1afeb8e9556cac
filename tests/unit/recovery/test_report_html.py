"""The report is one self-contained page and everything from the job or image is escaped."""

from __future__ import annotations

import datetime
import html.parser
import pathlib
import re

import hypothesis
import hypothesis.strategies as st
import pytest

from backupctl.actions import job_report
from recovery import recovered_files, report_html
from recovery.custody import CustodyEvent
from recovery.jobs import Job, JobStore
from tests.fixtures import repair_job


class _Collector(html.parser.HTMLParser):
    """Collect every tag and attribute the browser would see."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs


@pytest.fixture
def rendered(tmp_path):
    store = JobStore(tmp_path / "state" / "state.db", tmp_path / "state" / "jobs")
    imaged = repair_job.imaged_and_scanned(store, tmp_path)
    return _render(store, imaged.job.job_id)


def _render(store: JobStore, job_id: str) -> str:
    """Gather the job's values as ``job report`` does, then render them."""
    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    return report_html.render(job_report.gather(store, job_id, kept_days=30, now=now))


def test_hostile_names_stay_text(rendered):
    parser = _Collector()
    parser.feed(rendered)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered
    assert "dropped\\nchain    verifies: forged" in rendered


def test_page_loads_nothing_from_outside(rendered):
    parser = _Collector()
    parser.feed(rendered)
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(parser.tags)
    assert not [name for name, _ in parser.attributes if name in ("src", "href", "srcset")]
    assert not re.search(r"url\(|@import", rendered)


def test_every_section_is_there(rendered):
    for title in (
        "Job",
        "Medium",
        "Imaging",
        "Sector map",
        "Partitions and file systems",
        "Recovered files",
        "Damaged files",
        "Copies held by the workshop",
        "Custody trail",
    ):
        assert f">{title}</h" in rendered
    assert "1 h 02 min 03 s" in rendered and "SN-42" in rendered and "usb-stick" in rendered
    assert 'id="sector-map"' in rendered and 'id="file-table"' in rendered
    assert "deleted/contract.pdf" in rendered and "1 file(s) contain bytes" in rendered
    assert "image scanned, recovered files written to" in rendered  # custody as sentences


def test_without_a_scan_the_report_says_no_scan_yet(tmp_path):
    store = JobStore(tmp_path / "state.db", tmp_path / "jobs")
    job = repair_job.open_job(store)
    page = _render(store, job.job_id)
    assert "no scan yet" in page and 'id="file-table"' not in page
    assert "The medium has not been imaged" in page and 'id="sector-map"' not in page


def test_changed_manifest_is_called_out():
    job = Job("J-20260101-001", "C", "CF", None, None, "open", "2026", None, pathlib.Path("/x"))
    scan = recovered_files.ScanResults("changed", "scan manifest changed: x")
    data = report_html.ReportInput(job, (), True, "ok", None, "no map", scan, "later", "now")
    page = report_html.render(data)
    assert "scan manifest changed" in page and 'id="file-table"' not in page


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table", "thead",
    "tbody", "tr", "th", "td", "span", "div", "svg", "rect",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "lang", "charset", "http-equiv", "content", "class", "id", "style", "xmlns", "width",
    "height", "viewbox", "role", "aria-label", "x", "y", "fill",
}  # fmt: skip


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(
    customer=st.text(max_size=60), note=st.text(max_size=60), name=st.text(max_size=60)
)
def test_no_text_from_outside_becomes_markup(customer, note, name):
    job = Job(
        "J-20260101-001", customer, "CF-9", None, note, "open", "2026", None, pathlib.Path("/x")
    )
    opened = {"customer": customer, "consent_ref": "CF-9", "ticket": None, "note": note}
    event = CustodyEvent(1, job.job_id, "job.opened", name, name, "2026", opened, "")
    item = recovered_files.RecoveredFile(name or "x", 1, "a" * 64, "deleted", 1, name, name[:5])
    scan = recovered_files.ScanResults("ok", name, name, (item,), ({name: name},), 0)
    data = report_html.ReportInput(job, (event,), False, name, None, name, scan, name, name)
    parser = _Collector()
    parser.feed(report_html.render(data))
    assert set(parser.tags) <= ALLOWED_TAGS
    names = {attribute for attribute, _ in parser.attributes}
    assert names <= ALLOWED_ATTRIBUTES
