"""Judge the log against a checkpoint (local, anchored or write-once): a log shorter than the
checkpoint was truncated; a log whose first ``tree_size`` records have another Merkle root or
last hash is not the log that was checkpointed; a checkpoint whose signature fails or whose key
is not the host's is itself forged."""

from __future__ import annotations

from backupctl.audit import chain
from backupctl.audit.checkpoint import Checkpoint, signature_ok


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
