"""Which files a verify run checks: the next share after the cursor, wrapping around."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupctl.actions import verify

PATHS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]


@pytest.mark.parametrize(("cursor", "percent", "expected"), [
    (None, 100, PATHS),
    (None, 34, ["a", "b", "c", "d"]),
    ("d", 34, ["e", "f", "g", "h"]),
    ("h", 34, ["i", "j", "a", "b"]),
    ("j", 10, ["a"]),
    ("c2", 10, ["d"]),  # a cursor no longer in the manifest: continue after where it sorted
    (None, 0.1, ["a"]),  # at least one file
])  # fmt: skip
def test_sample(cursor, percent, expected):
    assert verify.sample(PATHS, cursor, percent) == expected


def test_no_files_no_sample():
    assert verify.sample([], "x", 50) == []


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=60, unique=True),
    st.floats(1, 100),
    st.none() | st.text(max_size=4),
)
def test_repeated_runs_cover_every_file(paths, percent, cursor):
    paths = sorted(paths)
    runs = int(-(-100 // percent))  # ceil(100 / percent)
    seen: set[str] = set()
    for _ in range(runs):
        chosen = verify.sample(paths, cursor, percent)
        seen |= set(chosen)
        cursor = chosen[-1]
    assert seen == set(paths)


def _report(findings=(), errors=("",), checked=("p",), source_error=""):
    checks = tuple(
        verify.LocationCheck(f"l{n}", checked if not error else (), error)
        for n, error in enumerate(errors)
    )
    return verify.VerifyReport("s", checks, tuple(findings), source_error)


REPAIRED = verify.Finding("l0", "p", "content does not match its name", repaired=True)
LOST = verify.Finding("l0", "p", "missing", repaired=False, detail="no intact copy")


@pytest.mark.parametrize(("report", "code"), [
    (_report(), 0),
    (_report([REPAIRED]), 5),
    (_report([REPAIRED, LOST]), 1),
    (_report(errors=("", "unreachable")), 1),
    (_report(errors=("unreachable",)), 3),
    (_report(source_error="no manifest yet"), 3),
])  # fmt: skip
def test_verify_exit_codes(report, code):
    assert report.exit_code == code
