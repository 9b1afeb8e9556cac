"""The values a backup or init run returns: one result per location, per source, per run.

These cross from actions to the CLI (and into the state database), so they live here and not in
the persistence module; failed results are built in one place (``failed_everywhere``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from backupctl.errors import ExitCode, exit_code_for, most_serious


@dataclasses.dataclass(frozen=True)
class LocationResult:
    source: str
    location: str
    step: str  # 'init', 'backup', 'replicate' or 'verify'
    ok: bool
    reason: str = ""
    bytes_added: int = 0
    files_copied: int = 0
    snapshot_id: str | None = None


@dataclasses.dataclass(frozen=True)
class ForeignFile:
    """A repository file at a location that backupctl never saw restic write: never copied."""

    location: str
    path: str
    size: int


@dataclasses.dataclass(frozen=True)
class SourceReport:
    source: str
    snapshot_id: str | None
    primary: str | None
    results: tuple[LocationResult, ...]
    warnings: tuple[str, ...] = ()
    foreign: tuple[ForeignFile, ...] = ()
    empty_snapshot: bool = False
    created_at: str | None = None  # init: where restic created the repository in this run

    @property
    def exit_code(self) -> ExitCode:
        """The most serious of: the locations' outcomes, foreign files (5), an empty snapshot
        (6)."""
        return _exit_code(self.results, foreign=bool(self.foreign), empty=self.empty_snapshot)


@dataclasses.dataclass(frozen=True)
class RunReport:
    run_id: int
    sources: tuple[SourceReport, ...]

    @property
    def exit_code(self) -> ExitCode:
        """The most serious of: every location's outcome, foreign files (5), empty snapshots (6)."""
        return _exit_code(
            [r for report in self.sources for r in report.results],
            foreign=any(report.foreign for report in self.sources),
            empty=any(report.empty_snapshot for report in self.sources),
        )


def failed_everywhere(
    source: str,
    locations: Iterable[str],
    step: str,
    reason: str,
    *,
    reasons: dict[str, str] | None = None,
) -> tuple[LocationResult, ...]:
    """Given a source's locations and a reason, return a failed result for each; ``reasons``
    overrides the reason of single locations."""
    reasons = reasons or {}
    return tuple(
        LocationResult(source, name, step, ok=False, reason=reasons.get(name, reason))
        for name in locations
    )


def source_failed(
    source: str,
    locations: Iterable[str],
    step: str,
    reason: str,
    *,
    reasons: dict[str, str] | None = None,
) -> SourceReport:
    """Given a source whose step failed before it reached any location, return its report: a
    failed result at each location (``reasons`` overrides single locations' reason)."""
    return SourceReport(
        source, None, None, failed_everywhere(source, locations, step, reason, reasons=reasons)
    )


def _exit_code(results: Iterable[LocationResult], *, foreign: bool, empty: bool) -> ExitCode:
    codes = [exit_code_for([result.ok for result in results])]
    if foreign:
        codes.append(ExitCode.WARNING)
    if empty:
        codes.append(ExitCode.EMPTY_SNAPSHOT)
    return most_serious(codes)
