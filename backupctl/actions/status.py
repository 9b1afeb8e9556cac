"""What every location of every source holds: snapshot counts, newest and oldest, size, foreign
files, the last verify, and warnings (including runs that were killed before they finished)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import os
import socket
from typing import TYPE_CHECKING

from backupctl import errors, health, reach, state
from backupctl.actions import prepare, tenant_view
from backupctl.actions.backup import select_sources
from backupctl.checking import standing as checking
from backupctl.config import Config, Source
from backupctl.keys.errors import KeysError
from backupctl.replication import plan as planning
from backupctl.restic import messages, operations
from backupctl.restic.exitcodes import Outcome
from backupctl.restic.flags import Restic
from backupctl.restore import store as restore_store
from backupctl.results import ForeignFile
from backupctl.rotation import lingering, records, standing

if TYPE_CHECKING:
    from collections.abc import Iterable

    from backupctl.keys.store import Keystore

GRACE_HOURS = 2.0
RECOVER_HINT = (
    "a repository exists but the keystore has no password for it; restore the "
    "keystore with `backupctl keys recover`"
)


@dataclasses.dataclass(frozen=True)
class SourceStatus:
    source: str
    tenant: str
    locations: tuple[health.LocationState, ...]
    snapshots: tuple[messages.Snapshot, ...]  # the union over locations, oldest first
    warnings: tuple[str, ...]
    foreign: tuple[ForeignFile, ...] = ()
    last_verify: dict | None = None
    retention: standing.Standing | None = None  # oldest snapshot per location vs the max age
    checking: checking.Standing | None = None  # newest check per location, newest drill


@dataclasses.dataclass(frozen=True)
class Status:
    sources: tuple[SourceStatus, ...]
    killed_runs: tuple[dict, ...]  # runs that never finished and are not running any more
    warnings: tuple[str, ...]
    notes: tuple[str, ...] = ()  # tenants: holds, suspensions, offboardings (docs/tenants.md)


def status(config: Config, *, names: tuple[str, ...], now: datetime.datetime) -> Status:
    """Given source names (none: all), return what each location holds and what is wrong."""
    chosen = select_sources(config, names)
    keystore, restic = prepare.keystore_and_restic(config)
    tenants = tenant_view.status_lines(config, now=now)
    sources = tuple(
        _tenant_aware(tenants, source_status(config, keystore, restic, source, now=now))
        for source in chosen
        if source.name not in tenants.skipped  # destruction began: tenants.warnings tell
    )
    killed = tuple(killed_runs(config))
    warnings = tuple(
        f"run {run['id']} ({run['command']} by {run['actor']}, started "
        f"{run['started_at']}) never finished: it was killed; the next run catches up"
        for run in killed
    )
    warnings += tuple(restore_store.break_glass_warnings(state.db_path(config.state_dir)))
    return Status(sources, killed, warnings + tenants.warnings, tenants.notes)


def _tenant_aware(tenants: tenant_view.StatusLines, found: SourceStatus) -> SourceStatus:
    warnings = tenant_view.quiet_overdue(tenants, found.source, found.warnings)
    return dataclasses.replace(found, warnings=warnings)


def snapshot_ids(listing: Iterable[str]) -> frozenset[str]:
    return frozenset(path.split("/", 1)[1] for path in listing if path.startswith("snapshots/"))


def source_status(
    config: Config, keystore: Keystore, restic: Restic, source: Source, *, now: datetime.datetime
) -> SourceStatus:
    """Given a source, ask each location what it holds (in parallel) and judge the whole."""
    db = state.db_path(config.state_dir)
    with reach.reach(config, source, keystore) as reached:
        try:
            password = keystore.get(f"repo/{source.name}")
        except KeysError as error:  # not initialised yet, or a lost keystore
            hint = (
                RECOVER_HINT
                if reached.with_config(source.locations)
                else (f"{error}; run `backupctl init`")
            )
            for name in source.locations:
                reached = reached.failed(name, hint)
            password = None
        found, reached = _snapshots(restic, reached, password)
        states = tuple(_state(config, name, reached, found) for name in source.locations)
        manifest = state.load_manifest(db, source.name)
        foreign = (
            planning.plan(manifest, reached.listings, source.locations).foreign
            if manifest is not None
            else ()
        )
    union = {snapshot.id: snapshot for snapshots in found.values() for snapshot in snapshots}
    ordered = tuple(sorted(union.values(), key=lambda s: messages.parse_time(s.time)))
    warnings = health.warnings_for(
        list(states), schedule_hours=source.schedule_hours, grace_hours=GRACE_HOURS, now=now
    )
    warnings += _foreign_warnings(foreign)
    policy = config.policies[source.retention]
    retention = standing.standing(db, source.name, policy, found, now=now)
    warnings += retention.warnings
    margin = lingering.lingering(config, source, keystore, policy.max_age_days)
    warnings += [f"location {name}: {problem}" for name, problem in margin.problems.items()]
    verified = state.last_verify(db, source.name)
    if verified and verified["unrepairable"]:
        warnings.append(
            f"verify at {verified['finished_at']}: {verified['unrepairable']} "
            "damaged file(s) could not be repaired"
        )
    checked = checking.standing(config.state_dir, source.name)
    warnings += checked.warnings
    return SourceStatus(
        source.name,
        source.tenant,
        states,
        ordered,
        tuple(warnings),
        foreign,
        verified,
        retention,
        checked,
    )


def _snapshots(restic, reached, password) -> tuple[dict, reach.Reached]:
    if password is None:
        return {}, reached
    with concurrent.futures.ThreadPoolExecutor(max(1, len(reached.listings))) as pool:
        futures = {
            name: pool.submit(operations.snapshots, restic, reached.repository(name), password)
            for name, listing in reached.listings.items()
            if "config" in listing
        }
    found = {}
    for name, future in futures.items():
        try:
            found[name] = future.result()
        except Exception as error:
            if not errors.is_expected(error):
                raise
            reason = str(error)
            if Outcome.WRONG_PASSWORD.value in reason:
                reason += "; the keystore's password does not open it: `backupctl keys recover`"
            reached = reached.failed(name, reason)
    return found, reached


def _foreign_warnings(foreign) -> list[str]:
    by_location: dict[str, list[ForeignFile]] = {}
    for entry in foreign:
        by_location.setdefault(entry.location, []).append(entry)
    return [
        f"location {name}: {len(entries)} foreign file(s) backupctl did not write, e.g. "
        f"{entries[0].path} ({entries[0].size} bytes); not copied, remove or investigate"
        for name, entries in by_location.items()
    ]


def _state(config, name, reached, found) -> health.LocationState:
    offsite = config.locations[name].offsite
    if name in reached.failures or name not in reached.listings:
        return health.LocationState(
            name, offsite, reachable=False, reason=reached.failures.get(name, "not reached")
        )
    listing = reached.listings[name]
    times = [messages.parse_time(s.time) for s in found.get(name, [])]
    return health.LocationState(
        name,
        offsite,
        reachable=True,
        snapshot_ids=snapshot_ids(listing),
        newest=max(times, default=None),
        oldest=min(times, default=None),
        size_bytes=sum(listing.values()),
    )


def killed_runs(config: Config) -> list[dict]:
    """Return the runs that never finished and whose process is gone (killed, or the host
    crashed), newest first."""
    return [
        run
        for run in state.unfinished_runs(state.db_path(config.state_dir))
        if not _still_running(run)
    ]


def _still_running(run: dict) -> bool:
    if run.get("pid") is None or run["host"] != socket.gethostname():
        return False
    try:
        os.kill(run["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def history(config: Config, *, limit: int) -> list[dict]:
    """Return the newest recorded runs with their per-location results (and, for rotation runs,
    every forget, prune, deletion and check with ids and counts, under ``rotation``)."""
    db = state.db_path(config.state_dir)
    runs = state.recent_runs(db, limit=limit)
    rotations = records.events(db, [run["id"] for run in runs if run["command"] == "rotate"])
    return [
        {**run, "rotation": rotations[run["id"]]} if run["id"] in rotations else run for run in runs
    ]
