"""Prepare every location of every source: one restic repository per source, own random password.

The repository is created once with restic at the first reachable location; the other locations
receive a verified copy of its files, so all hold the same repository (same id, same key) and each
can be read with plain restic alone. A location that already holds a repository the keystore's
password cannot open is never touched: the keystore was lost or replaced (`backupctl keys recover`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from backupctl import reach, runlock, state
from backupctl.actions import audit_anchor, prepare, recorded, replicate
from backupctl.actions import manifest as manifests
from backupctl.actions.backup import select_sources
from backupctl.config import Config, Source
from backupctl.fastkey import making as fast_key
from backupctl.keys.errors import KeysError
from backupctl.progress import Progress
from backupctl.restic import operations
from backupctl.restic.exitcodes import Outcome
from backupctl.restic.flags import Restic
from backupctl.results import RunReport, SourceReport, source_failed
from backupctl.tenants import guard

if TYPE_CHECKING:
    from backupctl.keys.store import Keystore

logger = logging.getLogger(__name__)

RECOVER_HINT = (
    "the keystore has no password that opens it (lost or replaced keystore?); restore "
    "the keystore from escrow with `backupctl keys recover`; nothing was changed"
)


def init(
    config: Config, *, names: tuple[str, ...], progress: Progress, actor: str, host: str
) -> RunReport:
    """Given source names (none: all), prepare them, creating the keystore when missing."""
    keystore, restic = prepare.keystore_and_restic(config, create_keystore=True)
    sources = select_sources(config, names)
    sources = guard.sources_to_back_up(config, sources, named=bool(names))  # docs/tenants.md
    # one connection held for the run: each commit one sync, the WAL checkpointed once
    with state.session(state.db_path(config.state_dir)):
        report = run_init(
            config, keystore, restic, sources=sources, progress=progress, actor=actor, host=host
        )
        audit_anchor.after_run(config, keystore, sources, host=host)  # docs/audit.md: anchors
    return report


def run_init(
    config: Config,
    keystore: Keystore,
    restic: Restic,
    *,
    sources: list[Source],
    progress: Progress,
    actor: str,
    host: str,
) -> RunReport:
    """Create passwords and repositories where missing; return per-location results (recorded)."""
    return recorded.run_recorded(
        config.state_dir,
        command="init",
        actor=actor,
        host=host,
        sources=sources,
        each=lambda source: _locked_init_source(config, keystore, restic, source, progress),
    )


def _locked_init_source(config, keystore, restic, source, progress) -> SourceReport:
    """Init one source under its lock; a busy source fails alone, never the other sources."""
    try:
        with reach.reach_locked(config, source, keystore) as reached:
            return _init_source(config, keystore, restic, source, progress, reached)
    except runlock.SourceBusy as busy:
        return source_failed(source.name, source.locations, "init", str(busy))


def _init_source(config, keystore, restic, source, progress, reached) -> SourceReport:
    db = state.db_path(config.state_dir)
    holders = reached.with_config(source.locations)
    created_at = None
    if holders:
        refusal = _cannot_open(keystore, restic, source, reached, holders[0])
        if refusal:
            logger.error("source %s: repository at %s: %s", source.name, holders[0], refusal)
            return source_failed(
                source.name,
                source.locations,
                "init",
                f"repository at {holders[0]}: {refusal}",
                reasons=dict(reached.failures),
            )
        manifests.current(db, source.name, reached, source.locations)  # adopt once, if none
        password = keystore.get(f"repo/{source.name}")
    else:
        password = keystore.ensure_random(f"repo/{source.name}")
        keystore.save()
        created_at, reached = _create_first(restic, source, reached, password)
        if created_at is None:
            return source_failed(
                source.name,
                source.locations,
                "init",
                "no location could create the repository",
                reasons=dict(reached.failures),
            )
        manifests.created(db, source.name, reached, created_at)
    # the key restic opens in milliseconds, in the manifest before the copy (docs/keystore.md)
    reached = fast_key.ensure(db, source.name, reached, password, source.locations)
    manifest = manifests.current(db, source.name, reached, source.locations)
    copied = replicate.replicate(
        reached,
        manifest,
        source=source.name,
        names=source.locations,
        progress=progress,
        step="init",
    )
    return SourceReport(
        source.name, None, None, copied.results, foreign=copied.foreign, created_at=created_at
    )


def _cannot_open(keystore, restic, source, reached, name) -> str | None:
    """Return why the keystore's password cannot open the repository at ``name``, or None."""
    try:
        password = keystore.get(f"repo/{source.name}")
    except KeysError:
        return RECOVER_HINT
    result = operations.open_check(restic, reached.repository(name), password)
    if result.outcome is Outcome.WRONG_PASSWORD:
        return RECOVER_HINT
    return None


def _create_first(restic, source, reached, password) -> tuple[str | None, reach.Reached]:
    for name in source.locations:
        if name not in reached.listings:
            continue
        result = operations.init(restic, reached.repository(name), password)
        if result.ok:
            return name, reached.relisted([name])
        reached = reached.failed(name, f"restic init: {result.reason()}")
    return None, reached
