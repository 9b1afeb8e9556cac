"""Back each source up once, to its first reachable location, then copy it to all the others.

A location that fails never stops the others: it gets its own failed result with the reason, and
the next run copies what it missed. Every run and every location's result is recorded.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import re
from typing import TYPE_CHECKING

from backupctl import reach, state
from backupctl.actions import audit_anchor, prepare, recorded, replicate
from backupctl.actions import manifest as manifests
from backupctl.config import Config, Source
from backupctl.errors import ConfigError, is_expected
from backupctl.fastkey import making as fast_key
from backupctl.keys.secret import Secret
from backupctl.progress import Progress
from backupctl.restic import operations
from backupctl.restic.exitcodes import Outcome
from backupctl.restic.flags import Restic
from backupctl.results import LocationResult, RunReport, SourceReport, source_failed
from backupctl.rotation import records
from backupctl.tenants import guard

if TYPE_CHECKING:
    from backupctl.keys.store import Keystore

logger = logging.getLogger(__name__)

CHANGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
# Outcomes that say "this location, not the source": try the next location as the primary.
LOCATION_OUTCOMES = (Outcome.UNREACHABLE, Outcome.NO_REPOSITORY, Outcome.LOCKED, Outcome.NO_SPACE)
EMPTY_WARNING = (
    "the snapshot holds no files (everything excluded, or a source path that is a "
    "symlink restic does not follow)"
)


def select_sources(config: Config, names: tuple[str, ...]) -> list[Source]:
    """Given source names (none: all), return them; raise ConfigError for an unknown name."""
    unknown = [name for name in names if name not in config.sources]
    if unknown:
        raise ConfigError(
            f"unknown source(s): {', '.join(unknown)} "
            f"(configured: {', '.join(sorted(config.sources)) or 'none'})"
        )
    return [config.sources[name] for name in names] if names else list(config.sources.values())


def tags_for(source: Source, change_ref: str | None) -> tuple[str, ...]:
    """Return the restic tags of a source's snapshot; raise ConfigError for a malformed change
    ref."""
    tags = ("backupctl", f"source:{source.name}", f"tenant:{source.tenant}", *source.tags)
    if change_ref is None:
        return tags
    if not CHANGE_REF.match(change_ref):
        raise ConfigError(
            f"--tag change:{change_ref}: a change reference is letters, digits and . _ / -"
        )
    return (*tags, f"change:{change_ref}")


@dataclasses.dataclass(frozen=True)
class _Job:
    """What every step of one source's backup needs, handed down unchanged."""

    restic: Restic
    source: Source
    password: Secret
    tags: tuple[str, ...]
    progress: Progress
    db: pathlib.Path  # the state database


def backup(
    config: Config,
    *,
    names: tuple[str, ...],
    change_ref: str | None,
    progress: Progress,
    actor: str,
    host: str,
) -> RunReport:
    """Given source names (none: all), back them up; raise ConfigError for an unknown name or a
    bad change ref, KeysError or ResticError when the run cannot start."""
    sources = select_sources(config, names)
    for source in sources:
        tags_for(source, change_ref)  # a bad change ref fails before anything is opened
    sources = guard.sources_to_back_up(config, sources, named=bool(names))  # docs/tenants.md
    keystore, restic = prepare.keystore_and_restic(config)
    # one connection held for the run: each commit one sync, the WAL checkpointed once
    with state.session(state.db_path(config.state_dir)):
        report = run_backup(
            config,
            keystore,
            restic,
            sources=sources,
            change_ref=change_ref,
            progress=progress,
            actor=actor,
            host=host,
        )
        audit_anchor.after_run(config, keystore, sources, host=host)  # docs/audit.md: anchors
    return report


def run_backup(
    config: Config,
    keystore: Keystore,
    restic: Restic,
    *,
    sources: list[Source],
    change_ref: str | None,
    progress: Progress,
    actor: str,
    host: str,
) -> RunReport:
    """Back the sources up in turn; return what happened at every location (also recorded)."""
    tag_sets = {source.name: tags_for(source, change_ref) for source in sources}
    return recorded.run_recorded(
        config.state_dir,
        command="backup",
        actor=actor,
        host=host,
        tags=[f"change:{change_ref}"] if change_ref else [],
        sources=sources,
        each=lambda source: _backup_source(
            config, keystore, restic, source, tag_sets[source.name], progress
        ),
    )


def _backup_source(config, keystore, restic, source, tags, progress) -> SourceReport:
    missing = [str(path) for path in source.paths if not path.exists()]
    if missing:
        return source_failed(
            source.name,
            source.locations,
            "backup",
            f"source path does not exist: {', '.join(missing)}",
        )
    try:
        job = _Job(
            restic,
            source,
            keystore.get(f"repo/{source.name}"),
            tags,
            progress,
            state.db_path(config.state_dir),
        )
        with reach.reach_locked(config, source, keystore) as reached:
            return _backup_reached(job, reached)
    except Exception as error:
        if not is_expected(error):
            raise
        return source_failed(source.name, source.locations, "backup", str(error))


def _backup_reached(job: _Job, reached: reach.Reached) -> SourceReport:
    source = job.source
    manifests.current(job.db, source.name, reached, source.locations)  # adopt once, if none
    # once per repository: the key restic opens in milliseconds (docs/keystore.md)
    reached = fast_key.ensure(job.db, source.name, reached, job.password, source.locations)
    primary, outcome, reached = _back_up_first(job, reached)
    if primary is None:
        return source_failed(
            source.name,
            source.locations,
            "backup",
            "no location took the backup",
            reasons=dict(reached.failures),
        )
    if outcome.summary.snapshot_id:  # its age counts from now at the latest (rotation)
        records.remember_taken(job.db, source.name, outcome.summary.snapshot_id, primary)
    manifest = manifests.current(job.db, source.name, reached, source.locations)
    preference = (primary, *[name for name in source.locations if name != primary])
    copied = replicate.replicate(
        reached,
        manifest,
        source=source.name,
        names=preference,
        progress=job.progress,
        skip=(primary,),
    )
    item_warnings = tuple(f"{e.item}: {e.message}" for e in outcome.item_errors)
    empty = outcome.summary.total_files_processed == 0
    return SourceReport(
        source.name,
        outcome.summary.snapshot_id,
        primary,
        (_backup_result(source.name, primary, outcome), *copied.results),
        warnings=((EMPTY_WARNING,) if empty else ()) + item_warnings,
        foreign=copied.foreign,
        empty_snapshot=empty,
    )


def _back_up_first(job: _Job, reached: reach.Reached):
    """Back up to the first location holding the repository that takes it; return that location
    (None when none did), restic's outcome there, and the locations with failures marked."""
    candidates = reached.with_config(job.source.locations)
    if not candidates:  # a reachable location without a repository is caught up by the copy
        for name in list(reached.listings):
            reached = reached.failed(name, "no repository yet; run `backupctl init` first")
    for name in candidates:
        outcome, reached = _attempt(job, reached, name)
        if outcome.result.ok and outcome.summary is not None:
            return name, outcome, reached
        reached = reached.failed(name, f"restic backup: {outcome.result.reason()}")
        if outcome.result.outcome not in LOCATION_OUTCOMES:
            break  # the source itself failed: another location would fail the same way
    return None, None, reached


def _backup_result(source: str, location: str, outcome) -> LocationResult:
    unreadable = len(outcome.item_errors)
    empty = outcome.summary.total_files_processed == 0
    reason = "; ".join(
        filter(
            None,
            (
                f"{unreadable} file(s) unreadable" if unreadable else "",
                "empty snapshot" if empty else "",
            ),
        )
    )
    return LocationResult(
        source,
        location,
        "backup",
        ok=True,
        reason=reason,
        bytes_added=outcome.summary.data_added,
        snapshot_id=outcome.summary.snapshot_id,
    )


def _attempt(job: _Job, reached: reach.Reached, name: str):
    """Run restic backup at one location (after removing a stale lock once, when restic says the
    repository is locked); return its outcome and the locations with ``name`` listed again, the
    files restic wrote there added to the manifest (also when interrupted)."""
    before = reached.listings[name]
    target = reached.repository(name)
    job.progress.backup_started(job.source.name, name)
    try:
        outcome = _run_backup(job, target, lock_wait=None)
        if outcome.result.outcome is Outcome.LOCKED:
            outcome = _unlock_and_retry(job, target, name, outcome)
    except BaseException:
        try:
            manifests.remember_written(
                job.db, job.source.name, reached, name, before, complete=False
            )
        except Exception as error:  # noqa: BLE001 - never hide the interruption itself
            logger.debug("after the interruption, %s could not be listed: %s", name, error)
        raise
    finally:
        job.progress.backup_finished(job.source.name)
    complete = outcome.result.ok and outcome.summary is not None
    return outcome, manifests.remember_written(
        job.db, job.source.name, reached, name, before, complete=complete
    )


def _run_backup(job: _Job, target, *, lock_wait: str | None = "5m") -> operations.BackupOutcome:
    return operations.backup(
        job.restic,
        target,
        job.password,
        paths=job.source.paths,
        excludes=job.source.excludes,
        tags=job.tags,
        on_status=lambda status: job.progress.backup_status(job.source.name, status),
        lock_wait=lock_wait,
    )


def _unlock_and_retry(job: _Job, target, name: str, outcome) -> operations.BackupOutcome:
    """The first attempt does not wait for a lock (restic 0.18 would wait out its --retry-lock on a
    stale lock, and 0.14 cannot wait at all): `restic unlock` removes only stale locks (this host
    and the process gone, or older than 30 minutes), then try once more at the same location,
    this time waiting for a live lock where restic can (0.16 and later)."""
    logger.warning("location %s: repository locked; removing stale locks and trying again", name)
    unlocked = operations.unlock(job.restic, target, job.password)
    if not unlocked.ok:
        logger.warning("location %s: restic unlock: %s", name, unlocked.reason())
        return outcome
    return _run_backup(job, target)
