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
    db = config.state_dir / "state.db"
    run_id = state.start_run(db, command="init", actor=actor, host=host)
    reports = []
    try:
        for source in sources:
            with runlock.source_lock(config.state_dir, source.name):
                report = _init_source(config, keystore, restic, source, progress)
            for result in report.results:
                state.record_result(db, run_id, result)
            reports.append(report)
    finally:
        failed = any(not r.ok for report in reports for r in report.results)
        state.finish_run(db, run_id, 1 if failed else 0)
    return reports


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
