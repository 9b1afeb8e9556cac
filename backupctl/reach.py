"""Reach every location of a source at once: open its store and list its repository files."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
from typing import Self

from backupctl import errors
from backupctl import locations as location_stores
from backupctl.config import Config, Source
from targets.store import RepositoryStore

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Reached:
    """The stores of one source: which locations answered, with their listings, and which did not."""

    stores: dict[str, RepositoryStore]
    listings: dict[str, dict[str, int]]
    failures: dict[str, str]

    def close(self) -> None:
        for store in self.stores.values():
            try:
                store.close()
            except Exception as error:  # noqa: BLE001 - closing never hides the run's outcome
                logger.debug("closing %s: %s", store.name, error)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def reach(config: Config, source: Source, keystore) -> Reached:
    """Given a source, open and list each of its locations in parallel; failures carry reasons."""
    stores: dict[str, RepositoryStore] = {}
    failures: dict[str, str] = {}
    for location in config.source_locations(source):
        try:
            stores[location.name] = location_stores.store_for(location, source.name, keystore)
        except Exception as error:  # noqa: BLE001 - one location's failure, never the run's
            failures[location.name] = _describe(error)
    listings: dict[str, dict[str, int]] = {}
    with concurrent.futures.ThreadPoolExecutor(max(1, len(stores))) as pool:
        futures = {name: pool.submit(store.list_files) for name, store in stores.items()}
        for name, future in futures.items():
            try:
                listings[name] = future.result()
            except Exception as error:  # noqa: BLE001 - one location's failure, never the run's
                failures[name] = _describe(error)
    return Reached(stores=stores, listings=listings, failures=failures)


def relist(reached: Reached, names) -> None:
    """Refresh the listings of the given reachable locations (after a backup wrote to one)."""
    for name in names:
        try:
            reached.listings[name] = reached.stores[name].list_files()
        except Exception as error:  # noqa: BLE001 - one location's failure, never the run's
            reached.listings.pop(name, None)
            reached.failures[name] = _describe(error)


def _describe(error: Exception) -> str:
    if errors.is_expected(error):
        return str(error)
    return f"{type(error).__name__}: {error}"
