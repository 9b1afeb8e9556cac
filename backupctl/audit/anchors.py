"""Checkpoints kept outside the host: where they are written and how they are read back.

Each backup run writes the host's latest checkpoint to every location it backed up to, as
``audit-checkpoints/checkpoint-<host>.json`` next to the repositories (the location's store for
the subpath ``audit-checkpoints``; a source may not be named so). ``audit verify`` reads it back
from every location and judges the log against it (judge.py).
"""

from __future__ import annotations

import re

from backupctl import config
from backupctl.audit.checkpoint import Checkpoint, CheckpointError, parse
from targets.store import RepositoryStore

SUBPATH = config.RESERVED_SOURCE  # "audit-checkpoints": config refuses a source so named
MAX_ANCHOR_BYTES = 64 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def object_name(host: str) -> str:
    """Given a host name, return its anchor's file name inside ``audit-checkpoints/``."""
    return f"checkpoint-{_UNSAFE.sub('_', host)[:100]}.json"


def locked_directory(host: str) -> str:
    """Given a host name, return its directory of write-once checkpoints in the object-lock
    bucket (under ``audit-checkpoints/``); one object per checkpoint, named by its size."""
    return _UNSAFE.sub("_", host)[:100]


def locked_name(checkpoint: Checkpoint) -> str:
    """Given a checkpoint, return its object's path in the object-lock bucket (zero-padded, so
    key order is size order)."""
    return f"{locked_directory(checkpoint.host)}/{checkpoint.tree_size:012d}.json"


def write(store: RepositoryStore, checkpoint: Checkpoint) -> None:
    """Given the ``audit-checkpoints`` store of a location, write the checkpoint (atomically)."""
    store.write(object_name(checkpoint.host), checkpoint.to_bytes())


def read(store: RepositoryStore, host: str) -> Checkpoint:
    """Given the ``audit-checkpoints`` store of a location, return the host's checkpoint there;
    raise TargetError when it cannot be read, CheckpointError when it is malformed."""
    data = store.read(object_name(host), limit=MAX_ANCHOR_BYTES)
    return parse(data, where=f"location {store.name}: {object_name(host)}")


__all__ = ["CheckpointError", "locked_name", "object_name", "read", "write"]
