"""Custody events read as sentences: one formatter per kind, never dropped, never crashing."""

from __future__ import annotations

import hypothesis
import hypothesis.strategies as st
import pytest

from recovery import custody_text
from recovery.custody import CustodyEvent


def _event(kind: str, details: dict) -> CustodyEvent:
    return CustodyEvent(
        1, "J-20260101-001", kind, "anna", "bench", "2026-01-01T00:00:00", details, ""
    )


@pytest.mark.parametrize(
    ("kind", "details", "expected"),
    [
        (
            "job.opened",
            {"customer": "ACME", "consent_ref": "CF-9", "ticket": "T-1", "note": None},
            "job opened for customer ACME, consent CF-9, ticket T-1",
        ),
        ("note.added", {"text": "customer called"}, "note: customer called"),
        (
            "medium.attached",
            {
                "medium": {
                    "model": "Cruzer",
                    "serial": "S1",
                    "size_bytes": 1024,
                    "node": "/dev/sdb",
                },
                "reattached": False,
            },
            "medium attached: Cruzer, serial S1, 1.0 KiB (1024 bytes), at /dev/sdb",
        ),
        (
            "image.finished",
            {
                "totals": {"rescued": 3, "domain_size": 4, "bad_sector": 1, "bad_areas": 1},
                "size": 4,
                "sha256": "ab",
                "md5": "cd",
            },
            "imaging finished: 75.00% rescued, 1 B (1 bytes) unreadable in 1 area(s);"
            " image 4 B (4 bytes), SHA-256 ab, MD5 cd",
        ),
        (
            "job.closed",
            {
                "outcome": "recovered",
                "delete_after": "2026-02-01T00:00:00+00:00",
                "copies_kept_days": 31,
            },
            "job closed, outcome: recovered; the workshop's copies are to be deleted after"
            " 2026-02-01T00:00:00+00:00 (31 days)",
        ),
        ("job.closed", {}, "job closed"),
        (
            "scan.finished",
            {"output": "/srv/out", "manifest_sha256": "ff", "counts": {"carved": 2, "deleted": 1}},
            "image scanned, recovered files written to /srv/out (2 carved, 1 deleted);"
            " manifest SHA-256 ff",
        ),
        (
            "scan.finished",
            {"output": "/srv/out", "manifest_sha256": "ee", "counts": {"total": 3}},
            "image scanned, recovered files written to /srv/out (3 total); manifest SHA-256 ee",
        ),
        (
            "scan.failed",
            {"output": "/srv/out", "reason": "no space left"},
            "scan into /srv/out failed: no space left",
        ),
        (
            "copies.destroyed",
            {
                "items": [
                    {"path": "/a.img", "result": "deleted", "size": 10},
                    {"path": "/b", "result": "refused: it is a symlink (left alone)"},
                ]
            },
            "workshop copies deleted: 1 of 2 item(s), 10 B (10 bytes);"
            " NOT deleted: /b: refused: it is a symlink (left alone)",
        ),
    ],
)
def test_each_kind_reads_as_a_sentence(kind, details, expected):
    assert custody_text.describe(_event(kind, details)) == expected


def test_unknown_kind_shows_its_details():
    assert custody_text.describe(_event("tape.loaded", {"slot": 3})) == "tape.loaded: slot=3"


def test_a_malformed_record_falls_back_instead_of_failing():
    assert custody_text.describe(_event("note.added", {})) == "note.added: (no details)"


@hypothesis.given(
    st.sampled_from(sorted(custody_text._FORMATTERS)),
    st.dictionaries(
        st.sampled_from(["text", "medium", "totals", "paths", "items", "counts", "to", "reason"]),
        st.one_of(
            st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
        ),
    ),
)
def test_any_details_give_a_line(kind, details):
    assert isinstance(custody_text.describe(_event(kind, details)), str)
