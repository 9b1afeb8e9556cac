"""After a backup or init run: sign a checkpoint of the audit log and anchor it at every location
the run's sources use (``audit-checkpoints/checkpoint-<host>.json``, docs/audit.md).

A location that cannot take the anchor never fails the run: the run's own results already say
whether the location is reachable, and the next run anchors again. A checkpoint that cannot be
signed fails loudly (AuditError, exit 3): the log is then not what it should be.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import logging
from collections.abc import Iterable

from backupctl import locations, state
from backupctl.audit import anchors, checkpoint
from backupctl.config import Config, Source
from backupctl.errors import is_expected
from backupctl.keys.store import Keystore

logger = logging.getLogger(__name__)
MAX_PARALLEL = 8  # anchors written at once


@dataclasses.dataclass(frozen=True)
class Anchored:
    """Where the checkpoint went, and where it could not go (location -> reason)."""

    checkpoint: checkpoint.Checkpoint | None
    written: tuple[str, ...]
    failed: dict[str, str]


def after_run(
    config: Config, keystore: Keystore, sources: Iterable[Source], *, host: str
) -> Anchored:
    """Given a finished run's sources, checkpoint the log and write the checkpoint to each of
    their locations; return where it was written."""
    made = checkpoint.make(state.db_path(config.state_dir), config.state_dir, host=host)
    names = sorted({name for source in sources for name in source.locations})
    names = [name for name in names if name != config.audit_lock_location]
    if made is None:
        return Anchored(None, (), {})
    if config.audit_lock_location:
        names.append(config.audit_lock_location)
    return anchor_at(config, keystore, made, names)


def anchor_at(
    config: Config, keystore: Keystore, made: checkpoint.Checkpoint, names: Iterable[str]
) -> Anchored:
    """Given a checkpoint and location names, write it to each, all at once (each write waits
    for its disk or its network); return where it went."""
    names = list(names)
    if not names:
        return Anchored(made, (), {})
    with concurrent.futures.ThreadPoolExecutor(min(len(names), MAX_PARALLEL)) as pool:
        others = pool.map(lambda name: _anchor_one(config, keystore, made, name), names[1:])
        first = _anchor_one(config, keystore, made, names[0])  # here: one thread fewer to start
        problems = [first, *others]
    failed = {name: problem for name, problem in zip(names, problems, strict=True) if problem}
    written = tuple(name for name in names if name not in failed)
    return Anchored(made, written, failed)


def _anchor_one(
    config: Config, keystore: Keystore, made: checkpoint.Checkpoint, name: str
) -> str | None:
    """Write the checkpoint to one location; return why it could not be written, or None."""
    try:
        if name == config.audit_lock_location:
            _write_locked(config, keystore, made)
        else:
            with locations.store_for(config.locations[name], anchors.SUBPATH, keystore) as store:
                anchors.write(store, made)
    except Exception as error:
        if not is_expected(error):
            raise
        logger.warning("location %s: audit checkpoint not anchored: %s", name, error)
        return str(error) or type(error).__name__
    return None


def _write_locked(config: Config, keystore: Keystore, made: checkpoint.Checkpoint) -> None:
    """Put the checkpoint as a new write-once object in the object-lock bucket."""
    from targets import s3_lock  # boto3 loads only when there is such a bucket

    spec = locations.spec_for(
        config.locations[config.audit_lock_location], anchors.SUBPATH, keystore
    )
    retain_until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        days=config.audit_lock_days
    )
    s3_lock.put_locked(spec, anchors.locked_name(made), made.to_bytes(), retain_until=retain_until)
