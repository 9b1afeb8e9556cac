"""Carry out a replication plan: read each file once, verify it, write it to every location lacking it.

Each destination gets its own writer thread, so a slow or failing location never holds up the
others; a destination whose write fails gets nothing more in this run (so it never receives a
snapshot whose data did not arrive), and catches up on the next run. A file that fails its
content check on one origin is read from the next; a damaged file is never copied anywhere, and
the damaged copy is replaced by the verified one.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
from collections.abc import Callable

from backupctl.errors import BackupctlError
from backupctl.replication import plan as planning
from backupctl.replication import verify
from targets import errors as target_errors
from targets.store import RepositoryStore

logger = logging.getLogger(__name__)

IN_FLIGHT = 4  # files read ahead of the slowest writer, bounding memory to a few packs


class ConfigConflict(BackupctlError):
    """Two locations hold different repositories under one source: never mix them."""


@dataclasses.dataclass
class DestinationReport:
    files_copied: int = 0
    bytes_copied: int = 0
    repaired: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class SyncReport:
    destinations: dict[str, DestinationReport]
    damaged_at_origin: tuple[str, ...]  # "location:path" whose content did not match its name
    unrecoverable: tuple[str, ...]  # paths no location could supply intact


def check_configs(stores: dict[str, RepositoryStore], listings: dict[str, dict[str, int]]) -> None:
    """Raise ConfigConflict when two locations hold different repository configs. A location whose
    config cannot be read is left out here; its own reads and writes fail and say why."""
    contents = {}
    for name, listing in listings.items():
        if "config" in listing:
            try:
                contents[name] = stores[name].read("config")
            except target_errors.TargetError as error:
                logger.warning("location %s: cannot read its repository config: %s", name, error)
    if len(set(contents.values())) > 1:
        names = ", ".join(sorted(contents))
        raise ConfigConflict(
            f"locations {names} hold different restic repositories for the same source; "
            "refusing to mix them (was a location re-initialised by hand?)"
        )


def sync(
    stores: dict[str, RepositoryStore],
    listings: dict[str, dict[str, int]],
    preference: tuple[str, ...],
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> SyncReport:
    """Given reachable stores and their listings, make each hold every file; return what happened."""
    check_configs(stores, listings)
    transfers = planning.plan(listings, preference)
    reports = {name: DestinationReport() for name in listings}
    damaged: list[str] = []
    unrecoverable: list[str] = []
    writers = {name: concurrent.futures.ThreadPoolExecutor(1, f"write-{name}") for name in listings}
    pending: collections.deque = collections.deque()
    try:
        for transfer in transfers:
            data, bad_origins = _read_verified(stores, transfer)
            damaged.extend(f"{origin}:{transfer.path}" for origin in bad_origins)
            if data is None:
                unrecoverable.append(transfer.path)
                continue
            targets = planning.destinations(transfer, len(data))
            # a copy of the right size that failed its content check is replaced too
            targets += tuple(name for name in bad_origins if name not in targets)
            for name in targets:
                if reports[name].error is None:
                    future = writers[name].submit(_write, stores[name], reports[name], transfer, data)
                    pending.append((name, transfer, len(data), future))
            while len(pending) > IN_FLIGHT * max(1, len(listings)):
                _settle(pending.popleft(), reports, on_bytes)
        while pending:
            _settle(pending.popleft(), reports, on_bytes)
    finally:
        for writer in writers.values():
            writer.shutdown(wait=True, cancel_futures=True)
    return SyncReport(reports, tuple(damaged), tuple(unrecoverable))


def _read_verified(stores, transfer) -> tuple[bytes | None, tuple[str, ...]]:
    """Return the first origin's content that matches its name (or None), and the origins whose
    copy did not match."""
    damaged: list[str] = []
    for origin in transfer.origins:
        try:
            data = stores[origin].read(transfer.path)
        except target_errors.TargetError as error:
            logger.warning("location %s: cannot read %s: %s", origin, transfer.path, error)
            continue
        if verify.content_name_matches(transfer.path, data):
            return data, tuple(damaged)
        damaged.append(origin)
        logger.error("location %s: %s does not match its content hash; not copied from there",
                     origin, transfer.path)
    return None, tuple(damaged)


class _Skipped(Exception):
    """A write not attempted because an earlier write to the same destination failed."""


def _write(store: RepositoryStore, report: DestinationReport, transfer, data: bytes) -> None:
    """Runs on the destination's own writer thread, in plan order: after the first failure nothing
    more is written there, so a snapshot never arrives without its data."""
    if report.error is not None:
        raise _Skipped
    try:
        store.write(transfer.path, data)
    except Exception as error:  # any failure stops this destination, never the others
        report.error = str(error) or type(error).__name__
        raise


def _settle(entry, reports: dict[str, DestinationReport], on_bytes) -> None:
    name, transfer, size, future = entry
    report = reports[name]
    try:
        future.result()
    except Exception:  # noqa: BLE001 - recorded in report.error by the writer, or skipped
        return
    if any(holder == name for holder, _ in transfer.holders):
        report.repaired.append(transfer.path)
    report.files_copied += 1
    report.bytes_copied += size
    if on_bytes is not None:
        on_bytes(size)
