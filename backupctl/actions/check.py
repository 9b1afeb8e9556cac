"""`check`: `restic check` at every location of each source, reading a rotating subset of the
data (``--read-data-subset n/t``) so that all of it is read within operations.check_read_days.

Under the source lock (no backup, rotation or drill of the source runs meanwhile). The subset's
cursor advances only after a clean check: a location that failed, or was down, reads the same
slice again next time. One location's failure never stops the others.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib

from backupctl import identity, reach, state
from backupctl.actions import prepare
from backupctl.actions.backup import select_sources
from backupctl.audit import trail
from backupctl.checking import records, subset
from backupctl.config import Config, Source
from backupctl.errors import ConfigError, ExitCode, is_expected, most_serious
from backupctl.restic import operations

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LocationCheck:
    location: str
    ok: bool
    subset: str  # "n/t", "" when restic did not run
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class SourceCheck:
    source: str
    locations: tuple[LocationCheck, ...]
    error: str = ""  # the source could not be checked at all (busy, no password)

    @property
    def exit_code(self) -> ExitCode:
        """0 every location sound; 1 some failed; 3 none checked or all failed."""
        if self.error or not any(location.ok for location in self.locations):
            return ExitCode.FAILED
        return ExitCode.OK if all(loc.ok for loc in self.locations) else ExitCode.PARTIAL


def exit_code(reports: list[SourceCheck]) -> ExitCode:
    return most_serious([report.exit_code for report in reports])


def check(config: Config, *, names: tuple[str, ...], percent: float | None) -> list[SourceCheck]:
    """Given source names (none: all) and the share to read (None: as the config's period
    needs), check every location; return one report per source, recorded for `status` and in
    the audit log. Raise ConfigError for an unknown source or a share outside (0, 100]."""
    sources = select_sources(config, names)
    if percent is not None and not 0 < percent <= 100:
        raise ConfigError("--read-data-subset: a percentage above 0 and at most 100")
    slices = subset.slices_for(
        percent=percent,
        read_days=config.operations.check_read_days,
        check_hours=config.operations.check_hours,
    )
    db = state.db_path(config.state_dir)
    actor = identity.current().name
    subjects = {"sources": ",".join(source.name for source in sources)}
    trail.begin(db, "check.run", actor, subjects=subjects)  # fail closed
    try:
        keystore, restic = prepare.keystore_and_restic(config)
        reports = [_check_source(config, keystore, restic, source, slices) for source in sources]
    except BaseException as error:
        trail.failed(db, "check.run", actor, error, subjects=subjects)
        raise
    code = exit_code(reports)
    trail.end(
        db,
        "check.run",
        actor,
        outcome="ok" if code == ExitCode.OK else "failed",
        subjects=subjects,
        details={"exit_code": int(code), "sources": [_details(report) for report in reports]},
    )
    return reports


def _details(report: SourceCheck) -> dict:
    return {
        "source": report.source,
        "error": bool(report.error),
        "locations": {
            location.location: {"ok": location.ok, "subset": location.subset}
            for location in report.locations
        },
    }


def _check_source(config, keystore, restic, source: Source, slices: int) -> SourceCheck:
    db = state.db_path(config.state_dir)
    try:
        password = keystore.get(f"repo/{source.name}")
        with reach.reach_locked(config, source, keystore) as reached:
            checks = tuple(
                _check_location(db, restic, reached, source.name, name, password, slices)
                for name in source.locations
            )
    except Exception as error:
        if not is_expected(error):
            raise
        return SourceCheck(source.name, (), str(error))
    return SourceCheck(source.name, checks)


def _check_location(
    db: pathlib.Path, restic, reached, source: str, name: str, password, slices: int
) -> LocationCheck:
    if name not in reached.listings or "config" not in reached.listings[name]:
        reason = reached.failures.get(name, "no repository there")
        records.record_check(db, source, name, ok=False, subset="", reason=reason)
        return LocationCheck(name, False, "", reason)
    number = subset.next_slice(records.last_slice(db, source, name), slices)
    part = f"{number}/{slices}"
    result = operations.check(restic, reached.repository(name), password, read_data_subset=part)
    reason = "" if result.ok else result.reason()
    if result.ok:
        records.set_slice(db, source, name, number, slices)
    else:
        logger.error("source %s: check at %s (subset %s) failed: %s", source, name, part, reason)
    records.record_check(db, source, name, ok=result.ok, subset=part, reason=reason)
    return LocationCheck(name, result.ok, part, reason)
