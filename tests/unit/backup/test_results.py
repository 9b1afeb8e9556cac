"""How per-location results, foreign files and empty snapshots combine into one exit code."""

from __future__ import annotations

import pytest

from backupctl.errors import ExitCode
from backupctl.results import (
    ForeignFile,
    LocationResult,
    RunReport,
    SourceReport,
    failed_everywhere,
)

OK = LocationResult("s", "a", "backup", ok=True)
BAD = LocationResult("s", "b", "replicate", ok=False, reason="down")
FOREIGN = (ForeignFile("a", "snapshots/" + "0" * 64, 300),)


@pytest.mark.parametrize(("report", "code"), [
    (SourceReport("s", "id", "a", (OK,)), ExitCode.OK),
    (SourceReport("s", "id", "a", (OK,), foreign=FOREIGN), ExitCode.WARNING),
    (SourceReport("s", "id", "a", (OK,), empty_snapshot=True), ExitCode.EMPTY_SNAPSHOT),
    (SourceReport("s", "id", "a", (OK,), foreign=FOREIGN, empty_snapshot=True),
     ExitCode.EMPTY_SNAPSHOT),
    (SourceReport("s", "id", "a", (OK, BAD), foreign=FOREIGN), ExitCode.PARTIAL),
    (SourceReport("s", None, None, (BAD,), foreign=FOREIGN), ExitCode.FAILED),
])  # fmt: skip
def test_source_exit_code_is_the_most_serious(report, code):
    assert report.exit_code == code
    assert RunReport(1, (report,)).exit_code == code


def test_run_exit_code_combines_sources():
    clean = SourceReport("s", "id", "a", (OK,))
    foreign = SourceReport("t", "id", "a", (OK,), foreign=FOREIGN)
    broken = SourceReport("u", None, None, (BAD,))
    assert RunReport(1, (clean, foreign)).exit_code == ExitCode.WARNING
    assert RunReport(1, (clean, broken)).exit_code == ExitCode.PARTIAL
    assert RunReport(1, ()).exit_code == ExitCode.OK


def test_failed_everywhere_with_a_reason_per_location():
    assert failed_everywhere("s", ("a", "b"), "init", "busy", reasons={"b": "down"}) == (
        LocationResult("s", "a", "init", ok=False, reason="busy"),
        LocationResult("s", "b", "init", ok=False, reason="down"),
    )
