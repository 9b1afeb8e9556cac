"""Keep each source's manifest: the repository files backupctl itself saw restic write.

Established when ``init`` creates the repository (the listing restic left there), extended after
every backup attempt with the files new in that location's listing (both listings taken under the
source lock). A deployment older than the manifest adopts its primary's listing once, at the first
run under the lock: the one moment trust in a location's content is extended (logged).
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Mapping

from backupctl import reach, state
from backupctl.replication import verify as content
from backupctl.replication.manifest import Manifest, new_files
from targets import errors as target_errors

logger = logging.getLogger(__name__)


def current(
    db: pathlib.Path, source: str, reached: reach.Reached, preference: tuple[str, ...]
) -> Manifest | None:
    """Given a source's reached locations (under its lock), return its manifest; adopt the
    listing of the first location holding a repository when there is none yet; None when no
    location holds a repository."""
    manifest = state.load_manifest(db, source)
    if manifest is not None:
        return manifest
    holders = reached.with_config(preference)
    if not holders:
        return None
    listing = reached.listings[holders[0]]
    state.establish_manifest(db, source, listing, how="adopted", location=holders[0])
    logger.warning(
        "source %s: no manifest yet; adopted the %d file(s) at %s as the repository's "
        "content (trusted once; from now on only files backupctl sees restic write "
        "are copied)",
        source,
        len(listing),
        holders[0],
    )
    return state.load_manifest(db, source)


def created(db: pathlib.Path, source: str, reached: reach.Reached, location: str) -> Manifest:
    """Given the location where restic just created the repository, make its listing the
    manifest."""
    state.establish_manifest(db, source, reached.listings[location], how="init", location=location)
    return state.load_manifest(db, source) or Manifest({})


def remember_written(
    db: pathlib.Path,
    source: str,
    reached: reach.Reached,
    location: str,
    before: Mapping[str, int],
    *,
    complete: bool = True,
) -> reach.Reached:
    """List ``location`` again after restic wrote to it; add the files new since ``before`` to the
    manifest; return the relisted value. After a failed or interrupted restic (``complete``
    False) a new file may be partly written: only files whose content matches their name are
    added; the others stay foreign (reported) and are never copied."""
    after = reached.relisted([location])
    if location not in after.listings:
        return after
    written = new_files(before, after.listings[location])
    if not complete:
        written = {
            path: size for path, size in written.items() if _intact(after, location, path, size)
        }
    if written:
        state.add_to_manifest(db, source, written)
        logger.debug(
            "source %s: %d new file(s) at %s added to the manifest", source, len(written), location
        )
    return after


def _intact(reached: reach.Reached, location: str, path: str, size: int) -> bool:
    try:
        data = reached.stores[location].read(path, limit=size)
    except target_errors.TargetError as error:
        logger.warning("location %s: cannot read %s that restic left: %s", location, path, error)
        return False
    if len(data) == size and content.content_name_matches(path, data):
        return True
    logger.warning(
        "location %s: %s left by an unfinished restic is incomplete; not adopted", location, path
    )
    return False
