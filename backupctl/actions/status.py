"""What every location of every source holds: snapshot counts, newest and oldest, size, warnings."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime

from backupctl import errors, health, reach, state
from backupctl.config import Config, Source
from backupctl.keys.errors import KeysError
from backupctl.locations import repository
from backupctl.restic import messages, operations
from backupctl.restic.flags import Restic

GRACE_HOURS = 2.0


@dataclasses.dataclass(frozen=True)
class SourceStatus:
    source: str
    tenant: str
    locations: tuple[health.LocationState, ...]
    snapshots: tuple[messages.Snapshot, ...]  # the union over locations, oldest first
    warnings: tuple[str, ...]


def snapshot_ids(listing: dict[str, int]) -> frozenset[str]:
    return frozenset(path.split("/", 1)[1] for path in listing if path.startswith("snapshots/"))


def source_status(config: Config, keystore, restic: Restic, source: Source, *,
                  now: datetime.datetime) -> SourceStatus:
    """Given a source, ask each location what it holds (in parallel) and judge the whole."""
    try:
        password = keystore.get(f"repo/{source.name}")
    except KeysError as error:  # a source added to the config but not initialised yet
        states = tuple(health.LocationState(name, config.locations[name].offsite, reachable=False,
                                            reason=f"{error}; run `backupctl init`")
                       for name in source.locations)
        warnings = health.warnings_for(list(states), schedule_hours=source.schedule_hours,
                                       grace_hours=GRACE_HOURS, now=now)
        return SourceStatus(source.name, source.tenant, states, (), tuple(warnings))
    with reach.reach(config, source, keystore) as reached:
        with concurrent.futures.ThreadPoolExecutor(max(1, len(reached.listings))) as pool:
            futures = {name: pool.submit(operations.snapshots, restic,
                                         repository(reached.stores[name]), password)
                       for name, listing in reached.listings.items() if "config" in listing}
        found = {}
        for name, future in futures.items():
            try:
                found[name] = future.result()
            except Exception as error:
                if not errors.is_expected(error):
                    raise
                reached.failures[name] = str(error)
        states = tuple(_state(config, name, reached, found) for name in source.locations)
    union = {snapshot.id: snapshot for snapshots in found.values() for snapshot in snapshots}
    ordered = tuple(sorted(union.values(), key=lambda s: messages.parse_time(s.time)))
    warnings = health.warnings_for(list(states), schedule_hours=source.schedule_hours,
                                   grace_hours=GRACE_HOURS, now=now)
    return SourceStatus(source.name, source.tenant, states, ordered, tuple(warnings))


def _state(config, name, reached, found) -> health.LocationState:
    offsite = config.locations[name].offsite
    if name in reached.failures or name not in reached.listings:
        return health.LocationState(name, offsite, reachable=False,
                                    reason=reached.failures.get(name, "not reached"))
    listing = reached.listings[name]
    times = [messages.parse_time(s.time) for s in found.get(name, [])]
    return health.LocationState(
        name, offsite, reachable=True, snapshot_ids=snapshot_ids(listing),
        newest=max(times, default=None), oldest=min(times, default=None),
        size_bytes=sum(listing.values()),
    )


def unfinished_runs(config: Config) -> list[dict]:
    return state.unfinished_runs(state.db_path(config.state_dir))
