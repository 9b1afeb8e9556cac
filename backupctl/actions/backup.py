"""Back each source up once, to its first reachable location, then copy it to all the others.

A location that fails never stops the others: it gets its own failed result with the reason, and
the next run copies what it missed. Every run and every location's result is recorded.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from backupctl import reach, runlock, state
from backupctl.actions import replicate
from backupctl.config import Config, Source
from backupctl.errors import ConfigError, ExitCode, exit_code_for, is_expected
from backupctl.locations import repository
from backupctl.progress import Progress
from backupctl.restic import operations
from backupctl.restic.exitcodes import Outcome
from backupctl.restic.flags import Restic

logger = logging.getLogger(__name__)

CHANGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
# Outcomes that say "this location, not the source": try the next location as the primary.
LOCATION_OUTCOMES = (Outcome.UNREACHABLE, Outcome.NO_REPOSITORY, Outcome.LOCKED)


@dataclasses.dataclass(frozen=True)
class SourceReport:
    source: str
    snapshot_id: str | None
    primary: str | None
    results: tuple[state.LocationResult, ...]
    warnings: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RunReport:
    run_id: int
    sources: tuple[SourceReport, ...]

    @property
    def exit_code(self) -> int:
        return exit_code_for([result.ok for report in self.sources for result in report.results])


def select_sources(config: Config, names: tuple[str, ...]) -> list[Source]:
    """Given source names (none: all), return them; raise ConfigError for an unknown name."""
    unknown = [name for name in names if name not in config.sources]
    if unknown:
        raise ConfigError(f"unknown source(s): {', '.join(unknown)} "
                          f"(configured: {', '.join(sorted(config.sources)) or 'none'})")
    return [config.sources[name] for name in names] if names else list(config.sources.values())


def tags_for(source: Source, change_ref: str | None) -> tuple[str, ...]:
    """Return the restic tags of a source's snapshot; raise ConfigError for a malformed change ref."""
    tags = ("backupctl", f"source:{source.name}", f"tenant:{source.tenant}", *source.tags)
    if change_ref is None:
        return tags
    if not CHANGE_REF.match(change_ref):
        raise ConfigError(f"--tag change:{change_ref}: a change reference is letters, digits and . _ / -")
    return (*tags, f"change:{change_ref}")


def run_backup(config: Config, keystore, restic: Restic, *, sources: list[Source],
               change_ref: str | None, progress: Progress, actor: str, host: str) -> RunReport:
    """Back the sources up in turn; return what happened at every location (also recorded)."""
    tag_sets = {source.name: tags_for(source, change_ref) for source in sources}
    db = state.db_path(config.state_dir)
    run_id = state.start_run(db, command="backup", actor=actor, host=host,
                             tags=[f"change:{change_ref}"] if change_ref else [])
    reports = []
    try:
        for source in sources:
            report = _backup_source(config, keystore, restic, source, tag_sets[source.name], progress)
            for result in report.results:
                state.record_result(db, run_id, result)
            reports.append(report)
    finally:
        outcome = RunReport(run_id, tuple(reports))
        state.finish_run(db, run_id, outcome.exit_code if len(reports) == len(sources)
                         else ExitCode.INTERRUPTED)
    return outcome


def _failed_everywhere(source: Source, reason: str) -> SourceReport:
    results = tuple(state.LocationResult(source.name, name, "backup", ok=False, reason=reason)
                    for name in source.locations)
    return SourceReport(source.name, None, None, results)


def _backup_source(config, keystore, restic, source, tags, progress) -> SourceReport:
    missing = [str(path) for path in source.paths if not path.exists()]
    if missing:
        return _failed_everywhere(source, f"source path does not exist: {', '.join(missing)}")
    try:
        password = keystore.get(f"repo/{source.name}")
        with runlock.source_lock(config.state_dir, source.name), \
                reach.reach(config, source, keystore) as reached:
            return _backup_reached(restic, source, reached, password, tags, progress)
    except Exception as error:
        if not is_expected(error):
            raise
        return _failed_everywhere(source, str(error))


def _backup_reached(restic, source, reached, password, tags, progress) -> SourceReport:
    results: list[state.LocationResult] = []
    candidates = [name for name in source.locations
                  if name in reached.listings and "config" in reached.listings[name]]
    if not candidates:  # a reachable location without a repository is caught up by the copy
        for name in reached.listings:
            reached.failures[name] = "no repository yet; run `backupctl init` first"
    snapshot_id = primary = None
    item_warnings: list[str] = []
    for name in candidates:
        progress.backup_started(source.name, name)
        try:
            outcome = operations.backup(
                restic, repository(reached.stores[name]), password, paths=source.paths,
                excludes=source.excludes, tags=tags,
                on_status=lambda status: progress.backup_status(source.name, status))
        finally:
            progress.backup_finished(source.name)
        result = outcome.result
        if result.ok and outcome.summary is not None:
            snapshot_id, primary = outcome.summary.snapshot_id, name
            item_warnings = [f"{e.item}: {e.message}" for e in outcome.item_errors]
            results.append(state.LocationResult(
                source.name, name, "backup", ok=True,
                reason=f"{len(item_warnings)} file(s) unreadable" if item_warnings else "",
                bytes_added=outcome.summary.data_added, snapshot_id=snapshot_id))
            break
        reached.failures[name] = f"restic backup: {result.reason()}"
        reached.listings.pop(name, None)
        if result.outcome not in LOCATION_OUTCOMES:
            break  # the source itself failed: another location would fail the same way
    if primary is None:
        reason = "no location took the backup"
        return SourceReport(source.name, None, None, tuple(
            state.LocationResult(source.name, name, "backup", ok=False,
                                 reason=reached.failures.get(name, reason))
            for name in source.locations))
    reach.relist(reached, [primary])
    preference = (primary, *[n for n in source.locations if n != primary])
    results += replicate.replicate(reached, source=source.name, preference=preference,
                                   progress=progress, skip=(primary,))
    results += [state.LocationResult(source.name, name, "replicate", ok=False, reason=reason)
                for name, reason in reached.failures.items()
                if name != primary and not any(r.location == name for r in results)]
    return SourceReport(source.name, snapshot_id, primary, tuple(results), tuple(item_warnings))
