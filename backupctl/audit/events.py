"""The audit details of a backup, init or verify run, built from its results: ids, counts, sizes
and outcomes per source and location; never file names, error texts or contents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from backupctl.config import Source
from backupctl.results import RunReport, SourceReport


def run_subjects(sources: Sequence[Source]) -> dict[str, str]:
    """Given the sources of a run, return its subjects: source names and their tenants."""
    return {
        "sources": ",".join(source.name for source in sources),
        "tenants": ",".join(sorted({source.tenant for source in sources})),
    }


def run_details(report: RunReport, *, finished: bool) -> dict[str, Any]:
    """Given a run's report, return what its closing audit record says."""
    return {
        "run": report.run_id,
        "exit_code": int(report.exit_code) if finished else 130,
        "sources": [_source(entry) for entry in report.sources],
    }


def run_outcome(report: RunReport, *, finished: bool) -> str:
    """Given a run's report, return the closing record's outcome."""
    if not finished:
        return "failed"
    code = int(report.exit_code)
    return "ok" if code == 0 else ("warning" if code in (5, 6) else "failed")


def _source(entry: SourceReport) -> dict[str, Any]:
    return {
        "source": entry.source,
        "snapshot": entry.snapshot_id,
        "locations": {
            f"{result.location}:{result.step}": "ok" if result.ok else "failed"
            for result in entry.results
        },
        "bytes_added": sum(result.bytes_added for result in entry.results),
        "files_copied": sum(result.files_copied for result in entry.results),
        "foreign_files": len(entry.foreign),
        "warnings": len(entry.warnings),
    }


def foreign_by_location(report: RunReport) -> Iterable[tuple[str, str, int]]:
    """Given a run's report, yield (source, location, count) for each location where files were
    found that backupctl did not write."""
    for entry in report.sources:
        counts: dict[str, int] = {}
        for found in entry.foreign:
            counts[found.location] = counts.get(found.location, 0) + 1
        for location, count in sorted(counts.items()):
            yield entry.source, location, count


def verify_details(reports: Sequence[Any]) -> dict[str, Any]:
    """Given the verify reports (actions/verify.py), return the closing record's details."""
    return {
        "sources": [
            {
                "source": report.source,
                "exit_code": int(report.exit_code),
                "checked": report.checked,
                "damaged": len(report.findings),
                "repaired": len(report.repaired),
                "unrepairable": len(report.unrepairable),
                "locations_not_checked": sum(1 for check in report.locations if check.error),
            }
            for report in reports
        ]
    }
