"""`browse`: list a snapshot's tree (names, types, sizes), never file contents.

Looking is an audited act (statement 6.1): the record is written before restic runs, so a
browse that cannot be recorded does not happen.
"""

from __future__ import annotations

import dataclasses

from backupctl import state
from backupctl.actions import audited, snapshot_access
from backupctl.audit import log
from backupctl.config import Config
from backupctl.errors import ConfigError
from backupctl.identity import Actor
from backupctl.restic import restoring
from backupctl.restore import checks, gate
from policies.access import Role


@dataclasses.dataclass(frozen=True)
class Listing:
    source: str
    snapshot: str
    location: str
    nodes: tuple[restoring.Node, ...]


def browse(
    config: Config, source_name: str, *, actor: Actor, snapshot: str | None, path: str | None
) -> Listing:
    """Given a source, a snapshot id prefix (None: the newest) and a directory inside it, return
    its entries; raise AccessDenied or RefusedError (recorded)."""
    db = state.db_path(config.state_dir)
    source = snapshot_access.source_named(config, source_name)
    subjects = {"source": source.name, "tenant": source.tenant}
    audited.require_role(
        config,
        Role.RESTORE_REQUESTER,
        actor=actor,
        action="browse",
        tenant=source.tenant,
        subjects=subjects,
    )
    try:
        inside = checks.snapshot_path(path) if path else None
    except ValueError as error:
        raise ConfigError(str(error).replace("--path", "PATH")) from None
    problem = gate.refusal(db, source.tenant)
    if problem:
        audited.refuse(db, action="browse", actor=actor, subjects=subjects, reason=problem)
    opened = snapshot_access.first_healthy(config, source)
    if snapshot is None and not opened.snapshots:
        raise ConfigError(f"{source.name} has no snapshots yet")
    chosen = (
        snapshot_access.pick_snapshot(opened.snapshots, snapshot=snapshot, at=None)
        if snapshot
        else opened.snapshots[-1]
    )
    log.append(
        db,
        log.Event(
            "browse",
            actor.name,
            "ok",
            {**subjects, "snapshot": chosen.id},
            {"depth_limited": inside is not None},
        ),
    )
    snapshot_id, nodes = restoring.ls(
        opened.restic,
        opened.repository,
        opened.password,
        chosen.id,
        (inside,) if inside else (),
    )
    return Listing(source.name, snapshot_id, opened.location, nodes)
