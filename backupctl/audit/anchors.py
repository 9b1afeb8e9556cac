"""Checkpoints kept outside the host, and how the log is judged against a checkpoint.

Each backup run writes the host's latest checkpoint to every location it backed up to, as
``audit-checkpoints/checkpoint-<host>.json`` next to the repositories (the location's store for
the subpath ``audit-checkpoints``; a source may not be named so). ``audit verify`` reads it back
from every location and compares: a log shorter than a checkpoint was truncated; a log whose
first ``tree_size`` records have another Merkle root is not the log that was anchored.
"""

from __future__ import annotations

import re

from backupctl import config
from backupctl.audit import chain
from backupctl.audit.checkpoint import Checkpoint, CheckpointError, parse, signature_ok
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


def judge(
    checkpoint: Checkpoint, walked: chain.Walk, *, host_key: str, where: str
) -> list[chain.Problem]:
    """Given a checkpoint, the walk over the log and the host's public key, return how the log
    disagrees with it (nothing when it agrees)."""
    if not signature_ok(checkpoint):
        return [chain.Problem(None, "bad checkpoint", f"{where}: its signature does not verify")]
    if checkpoint.key != host_key:
        return [
            chain.Problem(
                None,
                "bad checkpoint",
                f"{where}: signed by key {checkpoint.key_id()}, not this host's checkpoint key",
            )
        ]
    size = checkpoint.tree_size
    if size > walked.count:
        return [
            chain.Problem(
                walked.count + 1,
                "truncated",
                f"the log holds {walked.count} records, but {where} (signed {checkpoint.at})"
                f" covers {size}: records {walked.count + 1} to {size} were removed",
            )
        ]
    root, head = walked.roots.get(size, ("", ""))
    if (root, head) != (checkpoint.root, checkpoint.head):
        return [
            chain.Problem(
                size,
                "replaced",
                f"records 1 to {size} are not the ones {where} (signed {checkpoint.at}) covers:"
                " the log was replaced or rewritten up to record "
                f"{size}",
            )
        ]
    return []


__all__ = ["CheckpointError", "judge", "object_name", "read", "write"]
