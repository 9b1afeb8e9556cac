"""Reach one source's repository for reading: the first location (in configured order) that
answers, with the repository password; and find a snapshot there by id prefix or by time."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import re
from collections.abc import Callable
from typing import TypeVar

from backupctl import locations as location_stores
from backupctl import reach, state
from backupctl.actions import prepare
from backupctl.config import Config, Source
from backupctl.errors import ConfigError, RefusedError, is_expected
from backupctl.fastkey import records as fast_keys
from backupctl.keys.secret import Secret
from backupctl.locations import repository
from backupctl.restic import messages, operations, restoring
from backupctl.restic.flags import Repository, Restic

SNAPSHOT_PREFIX = re.compile(r"^[0-9a-f]{8,64}$")


@dataclasses.dataclass(frozen=True)
class Opened:
    """A repository that answered: how to run restic on it, and its snapshots."""

    location: str
    restic: Restic
    repository: Repository
    password: Secret
    snapshots: tuple[messages.Snapshot, ...]


def source_named(config: Config, name: str) -> Source:
    if name not in config.sources:
        raise ConfigError(
            f"unknown source {name!r} (configured: {', '.join(sorted(config.sources))})"
        )
    return config.sources[name]


def first_healthy(config: Config, source: Source) -> Opened:
    """Given a source, return its first location (in configured order) whose repository lists
    its snapshots; raise ResticError naming every location's failure when none does."""

    def snapshots(name: str, restic: Restic, target: Repository, password: Secret) -> Opened:
        found = operations.snapshots(restic, target, password)
        return Opened(name, restic, target, password, tuple(found))

    return _first_answering(config, source, snapshots)


def first_listing(
    config: Config, source: Source, snapshot: str, *, keep: contextlib.ExitStack | None = None
) -> tuple[Opened, tuple[restoring.Node, ...]]:
    """Given a source and a full snapshot id, return the first location (in configured order)
    whose repository lists that snapshot, and the listing; the listing is the health check, so
    no location is listed or asked for its snapshots first. Raise ResticError naming every
    location's failure when none answers. With ``keep``, the restic processes reaching the
    answering location share one connection until ``keep`` closes (locations.shared_connection)."""

    def listing(
        name: str, restic: Restic, target: Repository, password: Secret
    ) -> tuple[Opened, tuple[restoring.Node, ...]]:
        listed, nodes = restoring.ls(restic, target, password, snapshot)
        if listed != snapshot:
            raise operations.ResticError(f"answered for snapshot {listed[:12]}")
        return Opened(name, restic, target, password, ()), nodes

    return _first_answering(config, source, listing, keep)


Answer = TypeVar("Answer")


def _first_answering(
    config: Config,
    source: Source,
    attempt: Callable[[str, Restic, Repository, Secret], Answer],
    keep: contextlib.ExitStack | None = None,
) -> Answer:
    """Try ``attempt`` at each of the source's locations in configured order; return the first
    answer; raise ResticError naming every location's failure (an expected error) when none
    answers. restic is given the source's fast key as its key hint (docs/keystore.md): no
    location is listed here, and where the key is missing restic tries every key."""
    keystore, restic = prepare.keystore_and_restic(config)
    password = keystore.get(f"repo/{source.name}")
    hint = fast_keys.recorded(state.db_path(config.state_dir), source.name)
    failures: list[str] = []
    for location in config.source_locations(source):
        store = None
        try:
            store = location_stores.store_for(location, source.name, keystore)
            with contextlib.ExitStack() as shared:
                if keep is not None:
                    shared.enter_context(location_stores.shared_connection(store))
                answer = attempt(location.name, restic, repository(store, key_hint=hint), password)
                if keep is not None:
                    keep.push(shared.pop_all())
                return answer
        except Exception as error:
            if not is_expected(error):
                raise
            failures.append(f"{location.name}: {error}")
        finally:
            if store is not None:
                reach.close([store])
    raise operations.ResticError(f"no location of {source.name} answered: {'; '.join(failures)}")


def pick_snapshot(
    snapshots: tuple[messages.Snapshot, ...], *, snapshot: str | None, at: datetime.datetime | None
) -> messages.Snapshot:
    """Given the snapshots and an id prefix or a time, return the one meant: the only one whose
    id starts with the prefix, or the newest taken at or before the time; raise RefusedError."""
    if (snapshot is None) == (at is None):
        raise ConfigError("give --snapshot ID or --at TIME (one of them)")
    if snapshot is not None:
        if not SNAPSHOT_PREFIX.match(snapshot):
            raise ConfigError("--snapshot: 8 to 64 lower-case hex digits of a snapshot id")
        matches = [entry for entry in snapshots if entry.id.startswith(snapshot)]
        if len(matches) != 1:
            what = "no snapshot" if not matches else f"{len(matches)} snapshots"
            raise RefusedError(f"refused: {what} with id {snapshot}")
        return matches[0]
    assert at is not None
    moment = at if at.tzinfo else at.replace(tzinfo=datetime.UTC)
    before = [entry for entry in snapshots if messages.parse_time(entry.time) <= moment]
    if not before:
        raise RefusedError(f"refused: no snapshot taken at or before {moment.isoformat()}")
    return max(before, key=lambda entry: messages.parse_time(entry.time))
