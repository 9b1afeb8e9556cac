"""Print per-location results, foreign files and warnings the same way for every command."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from backupctl.results import LocationResult, SourceReport

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_LINES = 10


def result_dict(result: LocationResult) -> dict:
    return dataclasses.asdict(result)


def source_dict(report: SourceReport) -> dict:
    return {
        "source": report.source,
        "snapshot_id": report.snapshot_id,
        "primary": report.primary,
        "created_at": report.created_at,
        "exit_code": int(report.exit_code),
        "empty_snapshot": report.empty_snapshot,
        "warnings": list(report.warnings),
        "foreign": [dataclasses.asdict(entry) for entry in report.foreign],
        "locations": [result_dict(result) for result in report.results],
    }


def print_source(report: SourceReport) -> None:
    print_results(report.results)
    for entry in report.foreign[:MAX_LINES]:
        click.echo(
            f"  foreign: {entry.location}: {entry.path} ({human_bytes(entry.size)}); "
            "not written by backupctl, not copied"
        )
    if len(report.foreign) > MAX_LINES:
        click.echo(f"  foreign: ... and {len(report.foreign) - MAX_LINES} more")
    for warning in report.warnings[:MAX_LINES]:
        click.echo(f"  warning: {warning}")


def print_results(results: Iterable[LocationResult]) -> None:
    for result in results:
        mark = "ok    " if result.ok else "FAILED"
        detail = []
        if result.snapshot_id:
            detail.append(f"snapshot {result.snapshot_id[:8]}")
        if result.bytes_added:
            detail.append(f"{human_bytes(result.bytes_added)} added")
        if result.files_copied:
            detail.append(f"{result.files_copied} file(s) copied")
        if result.reason:
            detail.append(result.reason)
        click.echo(f"  {mark} {result.location:<16} {result.step:<9} {'; '.join(detail)}")


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"
