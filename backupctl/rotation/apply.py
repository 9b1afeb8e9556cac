"""Forget and prune at one location, crash-safe: the intent is recorded before anything is
deleted, each stage is recorded when done, and the next run goes on from the recorded stage.

The manifest follows every step: the forgotten snapshots' files are marked deleted before
restic forgets them (so no catch-up can bring one back), and after prune the files it deleted
are marked deleted and the files it wrote are added (compared with the listing taken before
prune, which the intent keeps). Replication then makes every other location match.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from collections.abc import Callable
from typing import TypeVar

from backupctl import reach
from backupctl.errors import BackupctlError
from backupctl.keys.secret import Secret
from backupctl.restic import operations
from backupctl.restic.exitcodes import Outcome
from backupctl.restic.flags import Repository, Restic
from backupctl.rotation import inventory, records
from backupctl.rotation.progress import StepProgress

logger = logging.getLogger(__name__)
T = TypeVar("T")


class RotationStepFailed(BackupctlError):
    """restic forget or prune failed at the location where rotation runs them."""


@dataclasses.dataclass(frozen=True)
class Context:
    """What every stage needs, handed down unchanged."""

    db: pathlib.Path
    restic: Restic
    source: str
    password: Secret
    run_id: int
    steps: StepProgress


@dataclasses.dataclass(frozen=True)
class Applied:
    reached: reach.Reached  # the locations, the rotation's location listed again
    events: tuple[records.Event, ...]


def start(
    context: Context, reached: reach.Reached, location: str, expired: tuple[str, ...]
) -> Applied:
    """Given the snapshots to forget (at any location), record the intent, mark their files
    deleted in the manifest, then forget and prune at ``location``; raise RotationStepFailed
    when restic fails there (the intent stays for the next run). Snapshots only other locations
    hold (made there by hand) need no restic: replication deletes their files."""
    here = inventory.snapshot_ids(reached.listings[location])
    ids = tuple(sid for sid in expired if sid in here)
    if not ids:
        records.mark_removed(context.db, context.source, map(inventory.snapshot_path, expired))
        return Applied(reached, ())
    intent = records.begin(
        context.db, context.source, run_id=context.run_id, location=location, snapshot_ids=ids
    )
    records.mark_removed(context.db, context.source, map(inventory.snapshot_path, expired))
    return resume(context, reached, intent)


def resume(context: Context, reached: reach.Reached, intent: records.Intent) -> Applied:
    """Given an intent, carry it on from its stage up to 'replicate'; raise RotationStepFailed
    when restic fails (the intent stays at that stage)."""
    events: list[records.Event] = []
    if intent.stage == "forget":
        records.mark_removed(
            context.db, context.source, map(inventory.snapshot_path, intent.snapshot_ids)
        )
        reached, event = _forget(context, reached, intent)
        events.extend(event)
        intent = records.advance(
            context.db, intent, "prune", before_prune=reached.listings[intent.location]
        )
    if intent.stage == "prune":
        reached, event = _prune(context, reached, intent)
        events.append(event)
        records.advance(context.db, intent, "replicate")
    return Applied(reached, tuple(events))


def _forget(context: Context, reached: reach.Reached, intent: records.Intent):
    location = intent.location
    present = inventory.snapshot_ids(reached.listings[location])
    ids = tuple(sid for sid in intent.snapshot_ids if sid in present)
    if not ids:
        return reached, ()
    target = reached.repository(location)
    context.steps.step_started(context.source, location, "forget")
    try:
        result = unlocking(
            context,
            target,
            location,
            lambda wait: operations.forget(
                context.restic, target, context.password, ids, lock_wait=wait
            ),
        )
    finally:
        context.steps.step_finished(context.source, location, "forget")
    detail = "" if result.ok else result.reason()
    event = records.Event(context.source, location, "forget", result.ok, ids, detail=detail)
    records.record_event(context.db, context.run_id, event)
    if not result.ok:
        raise RotationStepFailed(f"restic forget at {location}: {result.reason()}")
    after = reached.relisted([location])
    if location not in after.listings:
        raise RotationStepFailed(f"{location}: {after.failures.get(location)}")
    logger.info("source %s: forgot %d snapshot(s) at %s", context.source, len(ids), location)
    return after, (event,)


def _prune(context: Context, reached: reach.Reached, intent: records.Intent):
    location = intent.location
    before = dict(intent.before_prune or reached.listings[location])
    target = reached.repository(location)
    context.steps.step_started(context.source, location, "prune")
    try:
        result, summary = unlocking(
            context,
            target,
            location,
            lambda wait: operations.prune(
                context.restic,
                target,
                context.password,
                on_line=lambda line: context.steps.step_line(context.source, line),
                lock_wait=wait,
            ),
        )
    finally:
        context.steps.step_finished(context.source, location, "prune")
    if not result.ok:
        event = records.Event(context.source, location, "prune", False, detail=result.reason())
        records.record_event(context.db, context.run_id, event)
        raise RotationStepFailed(f"restic prune at {location}: {result.reason()}")
    reached = reached.relisted([location])
    if location not in reached.listings:
        raise RotationStepFailed(f"{location}: {reached.failures.get(location)}")
    after = reached.listings[location]
    deleted = sorted(path for path in before if path not in after)
    written = {path: size for path, size in after.items() if path not in before}
    records.mark_removed(context.db, context.source, deleted)
    records.mark_written(context.db, context.source, written)
    event = records.Event(
        context.source,
        location,
        "prune",
        True,
        files=len(deleted),
        bytes=sum(before[path] for path in deleted),
        detail=f"deleted {len(deleted)} file(s), wrote {len(written)}; {summary.describe()}",
    )
    records.record_event(context.db, context.run_id, event)
    return reached, event


def unlocking(
    context: Context, target: Repository, location: str, attempt: Callable[[str | None], T]
) -> T:
    """Run a restic step without waiting for a lock (restic 0.18 would wait out a stale one);
    when the repository is locked (a run killed mid-prune leaves its lock), remove stale locks
    with `restic unlock` and try once more, now waiting for a live lock where restic can. Under
    the source lock no other run of ours works there; restic removes only locks it judges
    stale."""
    outcome = attempt(None)
    result = outcome[0] if isinstance(outcome, tuple) else outcome
    if result.outcome is not Outcome.LOCKED:
        return outcome
    logger.warning(
        "location %s: repository locked; removing stale locks and trying again", location
    )
    unlocked = operations.unlock(context.restic, target, context.password)
    if not unlocked.ok:
        logger.warning("location %s: restic unlock: %s", location, unlocked.reason())
        return outcome
    return attempt("5m")
