"""Destroy the data of forgotten snapshots backupctl did not write, at the other locations.

A snapshot made by hand at a location other than the one rotation prunes at is forgotten there
through the manifest (its snapshot file is deleted like any other), but its pack and index files
are foreign to the manifest and replication never deletes foreign files. When no other hand-made
snapshot remains at that location, rotation runs `restic prune` there without repacking (only
packs no snapshot uses go). If no foreign pack is left afterwards, the location's index is put
back to the manifest's (the index files prune deleted are copied back, the ones it wrote are
removed), so the location holds exactly the manifest's files again. Otherwise the location is
left as restic indexed it (a sound repository) and the leftovers are reported.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

from backupctl import reach
from backupctl.replication.manifest import Manifest
from backupctl.restic import operations
from backupctl.rotation import inventory, records
from backupctl.rotation.apply import Context, unlocking

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Cleaned:
    reached: reach.Reached
    events: tuple[records.Event, ...]
    leftovers: tuple[str, ...]  # warnings: where foreign data of forgotten snapshots stays


def clean(
    context: Context,
    reached: reach.Reached,
    manifest: Manifest,
    locations: Iterable[str],
    *,
    copy_back: Callable[[reach.Reached], reach.Reached],
) -> Cleaned:
    """Given the locations where hand-made snapshots were forgotten, prune their data there when
    that is safe; ``copy_back`` brings a location the manifest's files it lacks."""
    events: list[records.Event] = []
    leftovers: list[str] = []
    for name in locations:
        reached, event, leftover = _clean_one(context, reached, manifest, name, copy_back)
        events.extend(event)
        leftovers.extend(leftover)
    return Cleaned(reached, tuple(events), tuple(leftovers))


def _clean_one(context, reached, manifest, name, copy_back):
    if name not in reached.listings:
        return reached, (), (_leftover(name, "not reached"),)
    before = dict(reached.listings[name])
    if any(before.get(path) != size for path, size in manifest.files.items()):
        return reached, (), (_leftover(name, "it does not hold every backupctl file yet"),)
    others = [
        sid
        for sid in inventory.snapshot_ids(before)
        if inventory.snapshot_path(sid) not in manifest.files
    ]
    if others:
        return reached, (), (_leftover(name, f"{len(others)} other hand-made snapshot(s) there"),)
    target = reached.repository(name)
    context.steps.step_started(context.source, name, "prune")
    try:
        result, summary = unlocking(
            context,
            target,
            name,
            lambda wait: operations.prune(
                context.restic, target, context.password, lock_wait=wait, repack=False
            ),
        )
    finally:
        context.steps.step_finished(context.source, name, "prune")
    if not result.ok:
        return reached, (), (_leftover(name, f"restic prune: {result.reason()}"),)
    reached = reached.relisted([name])
    if name not in reached.listings:
        return reached, (), (_leftover(name, reached.failures.get(name, "not reached")),)
    after = reached.listings[name]
    deleted = sorted(path for path in before if path not in after)
    written = sorted(path for path in after if path not in before)
    still_foreign = [p for p in after if p.startswith("data/") and p not in manifest.files]
    detail = f"hand-made data: deleted {len(deleted)} file(s); {summary.describe()}"
    event = records.Event(context.source, name, "prune", True, files=len(deleted), detail=detail)
    records.record_event(context.db, context.run_id, event)
    if still_foreign:  # restic still uses them: leave the location as restic indexed it
        reason = f"{len(still_foreign)} foreign pack(s) still in use there"
        return reached, (event,), (_leftover(name, reason),)
    reached = copy_back(reached)
    return _restore_index(reached, manifest, name, written), (event,), ()


def _restore_index(reached, manifest, name: str, written: list[str]) -> reach.Reached:
    """Remove the index files prune wrote, once the manifest's are all back at the location."""
    listing = reached.listings.get(name, {})
    index = [path for path in manifest.files if path.startswith("index/")]
    if not all(listing.get(path) == manifest.files[path] for path in index):
        logger.warning("location %s: the manifest's index is not back; keeping prune's", name)
        return reached
    for path in written:
        if path.startswith("index/") and path not in manifest.files:
            reached.stores[name].delete(path)
    return reached.relisted([name])


def _leftover(name: str, why: str) -> str:
    return (
        f"location {name}: data of forgotten snapshot(s) backupctl did not write stays there as "
        f"foreign files ({why}); remove it by hand or run `restic prune` there"
    )
