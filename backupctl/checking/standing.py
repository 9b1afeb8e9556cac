"""What `status` says about checks and drills of a source: the newest check per location, the
newest drill, and warnings (a failed check or drill, a drill's scratch copy left behind)."""

from __future__ import annotations

import dataclasses
import pathlib

from backupctl import state
from backupctl.checking import records, scratch


@dataclasses.dataclass(frozen=True)
class Standing:
    checks: tuple[dict, ...]  # newest check per location
    drill: dict | None  # newest drill
    warnings: tuple[str, ...]


def standing(state_dir: pathlib.Path, source: str) -> Standing:
    """Given the state directory and a source, return its checks, drill and their warnings."""
    db = state.db_path(state_dir)
    checks = tuple(records.last_checks(db, source))
    drill = records.last_drill(db, source)
    warnings = [
        f"check at {check['location']} {check['finished_at']} failed: {check['reason']}"
        for check in checks
        if not check["ok"]
    ]
    if drill is not None and not drill["ok"]:
        warnings.append(f"restore drill {drill['finished_at']} failed: {drill['reason']}")
    left = scratch.leftovers(state_dir, source)
    if left:
        warnings.append(
            f"{len(left)} scratch copy(ies) of a killed restore drill left under "
            f"{scratch.root(state_dir, source)}; the next drill removes them"
        )
    return Standing(checks, drill, tuple(warnings))
