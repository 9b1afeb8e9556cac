"""Carry out a replication plan: read each file once, verify it, write it to every location lacking
it, then remove what the toolkit deleted.

Each destination gets its own writer thread, so a slow or failing location never holds up the
others; a destination whose write fails gets nothing more in this run (so it never receives a
snapshot whose data did not arrive), and catches up on the next run. A file that fails its
content check on one origin is read from the next; a damaged file is never copied anywhere, and
the damaged copy is replaced by the verified one.

Interruption (Ctrl-C, SIGTERM): nothing more is submitted, queued writes are cancelled, the
destination stores are closed (which unblocks a writer stuck on a remote write) and the writers
get at most ``STOP_SECONDS`` to end; they are daemon threads, so a stuck one never holds the
process.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping

from backupctl.errors import BackupctlError
from backupctl.replication import plan as planning
from backupctl.replication import verify
from targets import errors as target_errors
from targets.store import RepositoryStore

logger = logging.getLogger(__name__)

IN_FLIGHT = 4  # files read ahead of the slowest writer, bounding memory to a few packs
CONFIG_LIMIT = 64 * 1024  # a restic repository config is a few hundred bytes
STOP_SECONDS = 3.0  # how long an interrupted run waits for its writers before it goes


class ConfigConflict(BackupctlError):
    """Two locations hold different repositories under one source: never mix them."""


@dataclasses.dataclass(frozen=True)
class DestinationReport:
    files_copied: int = 0
    bytes_copied: int = 0
    repaired: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class SyncReport:
    destinations: Mapping[str, DestinationReport]  # every location of the plan
    damaged_at_origin: tuple[str, ...]  # "location:path" whose content did not match its name
    unrecoverable: tuple[str, ...]  # paths no location could supply intact


@dataclasses.dataclass
class _Tally:
    """One destination's running count, written by its writer thread and the settling loop."""

    files_copied: int = 0
    bytes_copied: int = 0
    repaired: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None

    def frozen(self) -> DestinationReport:
        return DestinationReport(
            self.files_copied,
            self.bytes_copied,
            tuple(self.repaired),
            tuple(self.removed),
            self.error,
        )


def check_configs(
    stores: Mapping[str, RepositoryStore], listings: Mapping[str, Mapping[str, int]]
) -> None:
    """Raise ConfigConflict when two locations hold different repository configs. A location whose
    config cannot be read is left out here; its own reads and writes fail and say why."""
    contents = {}
    for name, listing in listings.items():
        if "config" in listing:
            try:
                contents[name] = stores[name].read("config", limit=CONFIG_LIMIT)
            except target_errors.TargetError as error:
                logger.warning("location %s: cannot read its repository config: %s", name, error)
    if len(set(contents.values())) > 1:
        names = ", ".join(sorted(contents))
        raise ConfigConflict(
            f"locations {names} hold different restic repositories for the same source; "
            "refusing to mix them (was a location re-initialised by hand?)"
        )


def sync(
    stores: Mapping[str, RepositoryStore],
    plan: planning.Plan,
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> SyncReport:
    """Given reachable stores and the plan made from their listings, carry it out; return what
    happened at every location of the plan."""
    tallies = {name: _Tally() for name in plan.locations}
    writers: dict[str, _Writer] = {}  # a destination's thread starts with its first write
    damaged: list[str] = []
    unrecoverable: list[str] = []
    finished = False
    try:
        _copy(stores, plan, tallies, writers, damaged, unrecoverable, on_bytes)
        _remove(stores, plan, tallies)
        finished = True
    finally:
        _stop(writers, stores, interrupted=not finished)
    return SyncReport(
        {name: tally.frozen() for name, tally in tallies.items()},
        tuple(damaged),
        tuple(unrecoverable),
    )


def _copy(stores, plan, tallies, writers, damaged, unrecoverable, on_bytes) -> None:
    pending: collections.deque = collections.deque()
    for transfer in plan.transfers:
        data, bad_origins = _read_verified(stores, transfer)
        damaged.extend(f"{origin}:{transfer.path}" for origin in bad_origins)
        if data is None:
            unrecoverable.append(transfer.path)
            continue
        # a copy of the right size that failed its content check is replaced too
        targets = transfer.destinations + tuple(
            n for n in bad_origins if n not in transfer.destinations
        )
        for name in targets:
            if tallies[name].error is None:
                if name not in writers:
                    writers[name] = _Writer(name)
                future = writers[name].submit(_write, stores[name], tallies[name], transfer, data)
                pending.append((name, transfer, len(data), future))
        while len(pending) > IN_FLIGHT * max(1, len(tallies)):
            _settle(pending.popleft(), tallies, on_bytes)
    while pending:
        _settle(pending.popleft(), tallies, on_bytes)


def _remove(stores, plan, tallies) -> None:
    """Delete what the toolkit deleted itself, snapshots first; a failure stops that location."""
    for removal in plan.removals:
        tally = tallies[removal.location]
        if tally.error is not None:
            continue
        try:
            stores[removal.location].delete(removal.path)
        except Exception as error:  # noqa: BLE001 - any failure stops this location only
            tally.error = f"delete {removal.path}: {error or type(error).__name__}"
            continue
        tally.removed.append(removal.path)
        logger.info("location %s: removed %s (%s)", removal.location, removal.path, removal.reason)


def _read_verified(stores, transfer) -> tuple[bytes | None, tuple[str, ...]]:
    """Return the first origin's content that has the manifest size and matches its name (or
    None), and the origins whose copy did not."""
    damaged: list[str] = []
    for origin in transfer.origins:
        try:
            data = stores[origin].read(transfer.path, limit=transfer.size)
        except target_errors.TargetError as error:
            logger.warning("location %s: cannot read %s: %s", origin, transfer.path, error)
            continue
        if len(data) == transfer.size and verify.content_name_matches(transfer.path, data):
            return data, tuple(damaged)
        damaged.append(origin)
        logger.error(
            "location %s: %s does not match its content hash or manifest size; "
            "not copied from there",
            origin,
            transfer.path,
        )
    return None, tuple(damaged)


class _Skipped(Exception):
    """A write not attempted because an earlier write to the same destination failed."""


def _write(store: RepositoryStore, tally: _Tally, transfer, data: bytes) -> None:
    """Runs on the destination's own writer thread, in plan order: after the first failure nothing
    more is written there, so a snapshot never arrives without its data."""
    if tally.error is not None:
        raise _Skipped
    try:
        store.write(transfer.path, data)
    except Exception as error:  # any failure stops this destination, never the others
        tally.error = str(error) or type(error).__name__
        raise


def _settle(entry, tallies: dict[str, _Tally], on_bytes) -> None:
    name, transfer, size, future = entry
    tally = tallies[name]
    try:
        future.result()
    except Exception:  # noqa: BLE001 - recorded in tally.error by the writer, or skipped
        return
    if name not in transfer.lacking:
        tally.repaired.append(transfer.path)
    tally.files_copied += 1
    tally.bytes_copied += size
    if on_bytes is not None:
        on_bytes(size)


class _Writer:
    """One destination's writer: a daemon thread running submitted calls in order."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"write-{name}", daemon=True)
        self._thread.start()

    def submit(self, function, *args) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((future, function, args))
        return future

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            future, function, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as error:  # noqa: BLE001 - handed to the waiting side
                future.set_exception(error)

    def stop(self, *, cancel: bool) -> None:
        """Let the thread end after what it is doing; cancel queued calls first when asked."""
        if cancel:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        self._queue.put(None)

    def join(self, timeout: float | None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


def _stop(writers: dict[str, _Writer], stores, *, interrupted: bool) -> None:
    """End the writers: normally after their (already settled) work; on interruption cancel what
    is queued, close the stores to unblock a stuck write, and wait at most STOP_SECONDS."""
    for writer in writers.values():
        writer.stop(cancel=interrupted)
    if not interrupted:
        for writer in writers.values():
            writer.join(None)
        return
    for name in writers:
        threading.Thread(
            target=_close_quietly, args=(stores[name],), daemon=True, name=f"close-{name}"
        ).start()
    deadline = time.monotonic() + STOP_SECONDS
    stuck = [
        name
        for name, writer in writers.items()
        if not writer.join(max(0.0, deadline - time.monotonic()))
    ]
    if stuck:
        logger.warning(
            "interrupted: left the writer(s) of %s blocked; they end with the process",
            ", ".join(stuck),
        )


def _close_quietly(store: RepositoryStore) -> None:
    try:
        store.close()
    except Exception as error:  # noqa: BLE001 - closing on interruption is best effort
        logger.debug("closing %s: %s", store.name, error)
