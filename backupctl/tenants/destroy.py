"""Destroy one source's repository at each of its locations, and its password in the keystore.

At each location still to do: delete every repository file through the store (``config`` and
``keys/`` first, so the repository cannot be opened from the first moment), then everything
else below it (locks, stray and temporary files, directories, and on S3 every noncurrent
version and delete marker, by version id), then list the location again, both ways: what restic
would see (``list_files``) and everything (``leftovers``). Only an empty answer to both finishes
the location. A location that is down, or still holds an object that object lock retains, stays
pending and the next rotation tries again. One location's failure never stops the others.

restic's local cache of the repository (``restic_cache_dir``) goes too: it holds the index,
snapshots and tree packs (file names). The keystore entry ``repo/<source>`` is erased in the
first destruction run, after every location was tried: what a location that was down still
holds can then no longer be read with the keystore (docs/tenants.md says what an older escrow
still holds).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

from backupctl import errors, locations, runlock
from backupctl.config import Config, Source
from backupctl.keys.errors import KeysError

if TYPE_CHECKING:
    from backupctl.keys.store import Keystore
    from targets.store import DestroyableStore

logger = logging.getLogger(__name__)

FIRST = ("config", "keys/")  # without these the repository cannot be opened at all
CHECKED = {
    "local": "listed the directory again (repository files, then every entry, symlinks not "
    "followed): nothing left",
    "sftp": "listed the directory on the server again (repository files, then every entry): "
    "nothing left",
    "s3": "listed the prefix again (objects, then every object version and delete marker): "
    "nothing left",
}


@dataclasses.dataclass(frozen=True)
class LocationOutcome:
    """What destroying one source's repository at one location did."""

    location: str
    done: bool  # listed again: nothing left
    removed: int = 0  # repository files deleted
    bytes: int = 0
    leftovers: int = 0  # other entries removed (locks, directories, versions, markers)
    checked: str = ""  # how "nothing left" was checked
    remaining: str = ""  # why it is not done


@dataclasses.dataclass(frozen=True)
class SourceOutcome:
    source: str
    locations: tuple[LocationOutcome, ...]
    key_erased: bool  # this run erased repo/<source> from the keystore
    key_gone: bool  # the keystore no longer holds it (erased now or before)
    caches: tuple[str, ...] = ()  # restic cache directories of the repository removed


def key_entry(source: str) -> str:
    return f"repo/{source}"


def destroy_source(
    config: Config, keystore: Keystore, source: Source, names: tuple[str, ...]
) -> SourceOutcome:
    """Given a source and the locations still to do, destroy its repository there and erase its
    keystore entry; return each location's outcome. Raise runlock.SourceBusy when another run
    works on the source (nothing is touched then)."""
    with runlock.source_lock(config.state_dir, source.name):
        seen: set[str] = set()  # snapshot ids found at the locations, to find restic's cache
        outcomes = tuple(_at(config, keystore, source, name, seen) for name in names)
        caches = remove_caches(config.restic_cache_dir, seen)
        erased, gone = _erase_key(keystore, source.name)
    return SourceOutcome(source.name, outcomes, erased, gone, caches)


def _at(
    config: Config, keystore: Keystore, source: Source, name: str, seen: set[str]
) -> LocationOutcome:
    location = config.locations[name]
    try:
        with _opened(location, source.name, keystore) as store:
            return _destroy_in(store, location.kind, seen)
    except Exception as error:
        if not errors.is_expected(error):
            raise
        logger.warning("location %s: destruction of %s unfinished: %s", name, source.name, error)
        return LocationOutcome(name, False, remaining=str(error))


class _opened:
    """Open a source's store at a location for the block, and close it afterwards."""

    def __init__(self, location, source_name: str, keystore: Keystore) -> None:
        self._store = locations.store_for(location, source_name, keystore)

    def __enter__(self) -> DestroyableStore:
        return self._store

    def __exit__(self, *exc_info: object) -> None:
        self._store.close()


def _destroy_in(store: DestroyableStore, kind: str, seen: set[str]) -> LocationOutcome:
    files = store.list_files()
    seen.update(path.removeprefix("snapshots/") for path in files if path.startswith("snapshots/"))
    for path in _ordered(files):
        store.delete(path)
    removal = store.remove_leftovers()
    still = sorted(store.list_files())
    rest = store.leftovers()
    if still or rest or removal.kept:
        left = [*still, *rest] or list(removal.kept)
        remaining = f"{len(left)} entries left, e.g. {'; '.join(left[:3])}"
        if removal.kept:
            remaining += f" ({'; '.join(removal.kept[:3])})"
        return LocationOutcome(
            store.name, False, len(files), sum(files.values()), removal.removed, "", remaining
        )
    return LocationOutcome(
        store.name, True, len(files), sum(files.values()), removal.removed, CHECKED[kind]
    )


def _ordered(files: dict[str, int]) -> Iterator[str]:
    """The repository's files, those that open it first."""
    first = [path for path in files if path == "config" or path.startswith("keys/")]
    yield from sorted(first)
    yield from sorted(path for path in files if path not in first)


def remove_caches(cache_dir: pathlib.Path, snapshot_ids: set[str]) -> tuple[str, ...]:
    """Remove restic's local cache of the repository (``<cache>/<repository id>/``: its index,
    snapshots and tree packs, file names included), found by the snapshot ids in its
    ``snapshots/``; return the directories removed. A symlink is never followed."""
    removed = []
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:
        return ()
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        if _cached_snapshots(pathlib.Path(entry.path) / "snapshots") & snapshot_ids:
            shutil.rmtree(entry.path)
            removed.append(entry.name)
    return tuple(removed)


def _cached_snapshots(directory: pathlib.Path) -> set[str]:
    """The snapshot ids in a cache's ``snapshots/``, directly or one level down (``xx/<id>``, as
    restic lays its cache out)."""
    found: set[str] = set()
    try:
        for entry in os.scandir(directory):
            if entry.is_dir(follow_symlinks=False):
                found.update(os.listdir(entry.path))
            else:
                found.add(entry.name)
    except OSError:
        return found
    return found


def _erase_key(keystore: Keystore, source: str) -> tuple[bool, bool]:
    """Erase the source's keystore entry; return (erased now, gone). A keystore that cannot be
    saved leaves the entry for the next run (logged), never the locations' outcomes unrecorded."""
    entry = key_entry(source)
    if entry not in keystore.names():
        return False, True
    try:
        keystore.delete(entry)
        keystore.save()
    except KeysError as error:
        logger.error("keystore entry %s not erased: %s; the next rotate tries again", entry, error)
        return False, False
    logger.warning("erased keystore entry %s (tenant destruction)", entry)
    return True, True
