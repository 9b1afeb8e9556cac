"""Print per-location results the same way for every command."""

from __future__ import annotations

import dataclasses

import click

from backupctl import state
from backupctl.errors import exit_code_for


def result_dict(result: state.LocationResult) -> dict:
    return dataclasses.asdict(result)


def print_results(results) -> None:
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


def exit_code(results) -> int:
    return exit_code_for([result.ok for result in results])


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"
