"""Reach every location of a source at once: open its store and list its repository files.

``reach`` yields an immutable ``Reached`` value; relisting, or marking a location failed, returns
a new value. The stores it opened are closed when the ``with`` block ends.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import threading
import time
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from backupctl import errors, runlock, state
from backupctl import locations as location_stores
from backupctl.config import Config, Source
from backupctl.fastkey import records as fast_keys
from backupctl.restic.flags import Repository
from targets.store import RepositoryStore

if TYPE_CHECKING:
    from backupctl.keys.store import Keystore

logger = logging.getLogger(__name__)

CLOSE_SECONDS = 3.0
# Under the source lock no other run of ours writes to the source's repositories, so every
# temporary file of ours there was left by a killed run, however young.
STALE_TEMPORARY_SECONDS = 0.0


def _frozen(mapping: Mapping) -> Mapping:
    return types.MappingProxyType(dict(mapping))


@dataclasses.dataclass(frozen=True)
class Reached:
    """The stores of one source: which locations answered, with their listings, and which did
    not; and the id of the source's fast key (docs/keystore.md), when it has one."""

    stores: Mapping[str, RepositoryStore]
    listings: Mapping[str, Mapping[str, int]]
    failures: Mapping[str, str]
    key_hint: str | None = None

    def __post_init__(self) -> None:
        for field in ("stores", "listings", "failures"):
            object.__setattr__(self, field, _frozen(getattr(self, field)))

    def failed(self, name: str, reason: str) -> Reached:
        """Return this value with ``name`` no longer listed and failed for ``reason``."""
        listings = {key: value for key, value in self.listings.items() if key != name}
        return Reached(self.stores, listings, {**self.failures, name: reason}, self.key_hint)

    def relisted(self, names: Iterable[str]) -> Reached:
        """Return this value with the given reachable locations listed again."""
        listings, failures = dict(self.listings), dict(self.failures)
        for name in names:
            try:
                listings[name] = _frozen(self.stores[name].list_files())
            except Exception as error:  # noqa: BLE001 - one location's failure, never the run's
                listings.pop(name, None)
                failures[name] = _describe(error)
        return Reached(self.stores, listings, failures, self.key_hint)

    def hinted(self, key_id: str | None) -> Reached:
        """Return this value with ``key_id`` as the source's fast key."""
        return Reached(self.stores, self.listings, self.failures, key_id)

    def repository(self, name: str) -> Repository:
        """Given a reached location, return how restic reaches the source's repository there,
        with ``--key-hint`` of the fast key where that location lists it (elsewhere restic
        would only look for the hinted key in vain before trying every key)."""
        listing = self.listings.get(name, {})
        hinted = self.key_hint is not None and f"keys/{self.key_hint}" in listing
        return location_stores.repository(
            self.stores[name], key_hint=self.key_hint if hinted else None
        )

    def with_config(self, preference: Iterable[str]) -> tuple[str, ...]:
        """Return the reachable locations holding a repository config, in preference order."""
        return tuple(
            name for name in preference if name in self.listings and "config" in self.listings[name]
        )


@contextlib.contextmanager
def reach(config: Config, source: Source, keystore: Keystore) -> Iterator[Reached]:
    """Given a source, open and list each of its locations in parallel (failures carry reasons);
    yield the result and close every store at the end of the block."""
    stores: dict[str, RepositoryStore] = {}
    failures: dict[str, str] = {}
    for location in config.source_locations(source):
        try:
            stores[location.name] = location_stores.store_for(location, source.name, keystore)
        except Exception as error:  # noqa: BLE001 - one location's failure, never the run's
            failures[location.name] = _describe(error)
    try:
        yield Reached(
            stores=stores,
            listings=_list_all(stores, failures),
            failures=failures,
            key_hint=fast_keys.recorded(state.db_path(config.state_dir), source.name),
        )
    finally:
        close(stores.values())


def _list_all(
    stores: Mapping[str, RepositoryStore], failures: dict[str, str]
) -> dict[str, dict[str, int]]:
    """List every store at once: the first in this thread (a source with one location starts no
    thread), the others each on a thread of their own; add a failure's reason to ``failures``."""
    listings: dict[str, dict[str, int]] = {}
    names = list(stores)
    with concurrent.futures.ThreadPoolExecutor(max(1, len(names) - 1)) as pool:
        futures = {name: pool.submit(stores[name].list_files) for name in names[1:]}
        if names:
            futures[names[0]] = _listed_here(stores[names[0]])
        for name in stores:
            try:
                listings[name] = futures[name].result()
            except Exception as error:  # noqa: BLE001 - one location's failure, never the run's
                failures[name] = _describe(error)
    return listings


def _listed_here(store: RepositoryStore) -> concurrent.futures.Future:
    future: concurrent.futures.Future = concurrent.futures.Future()
    try:
        future.set_result(store.list_files())
    except Exception as error:  # noqa: BLE001 - reported like a listing on a thread
        future.set_exception(error)
    return future


@contextlib.contextmanager
def reach_locked(config: Config, source: Source, keystore: Keystore) -> Iterator[Reached]:
    """Given a source, take its run lock and reach its locations; when the source's previous run
    did not end cleanly, remove the temporary files it may have left at each reachable location
    (safe only under the lock: no other run of ours writes there). Yield the reached value;
    raise runlock.SourceBusy when another run holds the lock."""
    with (
        runlock.source_lock(config.state_dir, source.name) as held,
        reach(config, source, keystore) as reached,
    ):
        if held.previous_run_unclean:  # a clean run leaves none, and looking costs a listing
            for name in reached.listings:
                _remove_stale_temporaries(reached.stores[name])
        yield reached


def _remove_stale_temporaries(store: RepositoryStore) -> None:
    try:
        removed = store.remove_stale_temporaries(STALE_TEMPORARY_SECONDS)
    except Exception as error:  # noqa: BLE001 - leftovers never stop a run; its writes will tell
        logger.warning(
            "location %s: cannot remove temporary files left by a killed run: %s",
            store.name,
            _describe(error),
        )
        return
    if removed:
        logger.warning(
            "location %s: removed %d temporary file(s) left by a killed run",
            store.name,
            len(removed),
        )


def close(stores: Iterable[RepositoryStore], *, timeout: float = CLOSE_SECONDS) -> None:
    """Close stores, waiting at most ``timeout`` seconds in all (a store stuck on a dead
    connection is left to the process's end); a failure to close is logged, never raised. A
    store that says its close cannot block (``close_may_block`` False: nothing to release) is
    closed in this thread."""
    stores = list(stores)
    for store in stores:
        if not getattr(store, "close_may_block", True):
            _close_one(store)
    closers = [
        threading.Thread(target=_close_one, args=(store,), daemon=True, name=f"close-{store.name}")
        for store in stores
        if getattr(store, "close_may_block", True)
    ]
    for closer in closers:
        closer.start()
    deadline = time.monotonic() + timeout
    for closer in closers:
        closer.join(max(0.0, deadline - time.monotonic()))


def _close_one(store: RepositoryStore) -> None:
    try:
        store.close()
    except Exception as error:  # noqa: BLE001 - closing never hides the run's outcome
        logger.debug("closing %s: %s", store.name, error)


def _describe(error: Exception) -> str:
    if errors.is_expected(error):
        return str(error)
    return f"{type(error).__name__}: {error}"
