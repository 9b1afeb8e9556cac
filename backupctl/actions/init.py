"""Prepare every location of every source: one restic repository per source, own random password.

The repository is created once with restic at the first reachable location; the other locations
receive a verified copy of its files, so all hold the same repository (same id, same key) and each
can be read with plain restic alone.
"""

from __future__ import annotations

import dataclasses

from backupctl import reach, runlock, state
from backupctl.actions import replicate
from backupctl.config import Config, Source
from backupctl.errors import ExitCode, exit_code_for
from backupctl.locations import repository
from backupctl.progress import Progress
from backupctl.restic import operations
from backupctl.restic.flags import Restic


@dataclasses.dataclass(frozen=True)
class InitReport:
    source: str
    created_at: str | None  # the location where restic created the repository in this run
    results: tuple[state.LocationResult, ...]


def run_init(config: Config, keystore, restic: Restic, *, sources: list[Source],
             progress: Progress, actor: str, host: str) -> list[InitReport]:
    """Create passwords and repositories where missing; return per-location results (recorded)."""
    for source in sources:
        keystore.ensure_random(f"repo/{source.name}")
    keystore.save()
    db = state.db_path(config.state_dir)
    run_id = state.start_run(db, command="init", actor=actor, host=host)
    reports = []
    try:
        for source in sources:
            report = _locked_init_source(config, keystore, restic, source, progress)
            for result in report.results:
                state.record_result(db, run_id, result)
            reports.append(report)
    finally:  # the recorded code is the one the CLI exits with (report.exit_code)
        outcomes = [result.ok for report in reports for result in report.results]
        state.finish_run(db, run_id, exit_code_for(outcomes) if len(reports) == len(sources)
                         else ExitCode.INTERRUPTED)
    return reports


def _locked_init_source(config, keystore, restic, source, progress) -> InitReport:
    """Init one source under its lock; a busy source fails alone, never the other sources."""
    try:
        with runlock.source_lock(config.state_dir, source.name):
            return _init_source(config, keystore, restic, source, progress)
    except runlock.SourceBusy as busy:
        return InitReport(source.name, None, tuple(
            state.LocationResult(source.name, name, "init", ok=False, reason=str(busy))
            for name in source.locations))


def _init_source(config, keystore, restic, source, progress) -> InitReport:
    password = keystore.get(f"repo/{source.name}")
    with reach.reach(config, source, keystore) as reached:
        created_at = None
        if not any("config" in listing for listing in reached.listings.values()):
            created_at = _create_first(restic, source, reached, password)
        results = replicate.replicate(reached, source=source.name, preference=source.locations,
                                      progress=progress, step="init")
        results += [state.LocationResult(source.name, name, "init", ok=False, reason=reason)
                    for name, reason in reached.failures.items()
                    if not any(r.location == name for r in results)]
        return InitReport(source.name, created_at, tuple(results))


def _create_first(restic, source, reached, password) -> str | None:
    for name in source.locations:
        if name not in reached.listings:
            continue
        result = operations.init(restic, repository(reached.stores[name]), password)
        if result.ok:
            reach.relist(reached, [name])
            return name
        reached.failures[name] = f"restic init: {result.reason()}"
        reached.listings.pop(name, None)
    return None
