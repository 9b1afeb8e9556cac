"""Check the repository files at each location against their SHA-256 names and the manifest's
sizes, and repair what is damaged from a verified copy at another location.

No password is needed: restic names every file but ``config`` by the SHA-256 of its content. A
sample of the files is checked per run; the sample starts where the last run stopped (a cursor per
source and location in the state database), so repeated runs cover every file.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import math

from backupctl import reach, state
from backupctl.actions import run_audit
from backupctl.actions.backup import select_sources
from backupctl.config import Config, Source
from backupctl.errors import ConfigError, ExitCode, is_expected, most_serious
from backupctl.keys import access as keyaccess
from backupctl.replication import verify as content
from targets import errors as target_errors

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Finding:
    location: str
    path: str
    problem: str  # 'missing', 'size <n>, manifest says <m>', 'content does not match its name'
    repaired: bool
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class LocationCheck:
    location: str
    checked: tuple[str, ...]  # the paths checked in this run
    error: str = ""  # the location could not be checked (unreachable, ...)


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    source: str
    locations: tuple[LocationCheck, ...]
    findings: tuple[Finding, ...]
    error: str = ""  # the source could not be verified at all

    @property
    def checked(self) -> int:
        return sum(len(location.checked) for location in self.locations)

    @property
    def repaired(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.repaired)

    @property
    def unrepairable(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if not finding.repaired)

    @property
    def exit_code(self) -> ExitCode:
        """0 clean; 5 damage found and all repaired; 1 unrepairable damage or a location not
        checked; 3 nothing could be checked."""
        if self.error or not any(location.checked for location in self.locations):
            return ExitCode.FAILED
        if self.unrepairable or any(location.error for location in self.locations):
            return ExitCode.PARTIAL
        return ExitCode.WARNING if self.findings else ExitCode.OK


def exit_code(reports: list[VerifyReport]) -> ExitCode:
    return most_serious([report.exit_code for report in reports])


def verify(
    config: Config, *, names: tuple[str, ...], location: str | None, sample_percent: float
) -> list[VerifyReport]:
    """Given source names (none: all), an optional location and the share of files to check,
    check and repair; return one report per source (the summary is recorded for `status`)."""
    sources = select_sources(config, names)
    if location is not None and not any(location in source.locations for source in sources):
        raise ConfigError(f"--location {location}: not a location of the chosen source(s)")
    if not 0 < sample_percent <= 100:
        raise ConfigError("--sample: a percentage above 0 and at most 100")
    keystore = keyaccess.open_keystore(config)  # location credentials only; no repository password
    return run_audit.verify_recorded(
        state.db_path(config.state_dir),
        sources,
        lambda: [
            _verify_source(config, keystore, source, location, sample_percent) for source in sources
        ],
    )


def _verify_source(
    config, keystore, source: Source, only: str | None, sample_percent: float
) -> VerifyReport:
    db = state.db_path(config.state_dir)
    try:
        with reach.reach_locked(config, source, keystore) as reached:
            manifest = state.load_manifest(db, source.name)
            if manifest is None:
                return VerifyReport(
                    source.name,
                    (),
                    (),
                    "no manifest yet; run `backupctl init` or `backupctl backup` first",
                )
            names = [name for name in source.locations if only in (None, name)]
            checks, findings = [], []
            for name in names:
                check, found = _verify_location(db, source, reached, manifest, name, sample_percent)
                checks.append(check)
                findings += found
    except Exception as error:
        if not is_expected(error):
            raise
        return VerifyReport(source.name, (), (), str(error))
    report = VerifyReport(source.name, tuple(checks), tuple(findings))
    state.record_verify(
        db,
        source.name,
        checked=report.checked,
        damaged=len(findings),
        repaired=len(report.repaired),
        unrepairable=len(report.unrepairable),
    )
    return report


def sample(paths: list[str], cursor: str | None, percent: float) -> list[str]:
    """Given the sorted manifest paths, the last path checked before and the share to check,
    return the paths of this run: the next ceil(percent) of them after the cursor, wrapping."""
    if not paths:
        return []
    count = min(len(paths), math.ceil(len(paths) * percent / 100))
    start = bisect.bisect_right(paths, cursor) if cursor is not None else 0
    return [paths[(start + offset) % len(paths)] for offset in range(count)]


def _verify_location(db, source, reached, manifest, name, percent):
    if name not in reached.listings:
        reason = reached.failures.get(name, "not reached")
        return LocationCheck(name, (), reason), []
    chosen = sample(sorted(manifest.files), state.verify_cursor(db, source.name, name), percent)
    findings = []
    for path in chosen:
        problem = _problem(reached, name, path, manifest.files[path])
        if problem is not None:
            findings.append(_repair(reached, name, path, manifest.files[path], problem))
    if chosen:
        state.set_verify_cursor(db, source.name, name, chosen[-1])
    return LocationCheck(name, tuple(chosen)), findings


def _problem(reached, name, path, size) -> str | None:
    listed = reached.listings[name].get(path)
    if listed is None:
        return "missing"
    if listed != size:
        return f"size {listed}, manifest says {size}"
    try:
        data = reached.stores[name].read(path, limit=size)
    except target_errors.TargetError as error:
        return f"unreadable: {error}"
    if len(data) != size:
        return f"size {len(data)}, manifest says {size}"
    if not content.content_name_matches(path, data):
        return "content does not match its name"
    return None


def _repair(reached, name, path, size, problem) -> Finding:
    """Replace the damaged file at ``name`` with a verified copy from another location."""
    logger.warning("location %s: %s: %s", name, path, problem)
    for origin, listing in reached.listings.items():
        if origin == name or listing.get(path) != size:
            continue
        try:
            data = reached.stores[origin].read(path, limit=size)
        except target_errors.TargetError as error:
            logger.warning("location %s: cannot read %s: %s", origin, path, error)
            continue
        if len(data) != size or not content.content_name_matches(path, data):
            continue
        try:
            reached.stores[name].write(path, data)  # atomic: temporary name, then rename
        except target_errors.TargetError as error:
            return Finding(name, path, problem, repaired=False, detail=f"write failed: {error}")
        logger.warning("location %s: %s repaired from %s", name, path, origin)
        return Finding(name, path, problem, repaired=True, detail=f"copied from {origin}")
    return Finding(name, path, problem, repaired=False, detail="no intact copy at any location")
