"""argv builders for the restic subcommands backupctl runs; each returns a tuple, nothing runs
here."""

from __future__ import annotations

import pathlib
import re

from backupctl.restic import feature, flags
from backupctl.restic.flags import Repository, Restic

SNAPSHOT_ID = re.compile(r"[0-9a-f]{64}")


def version_argv(binary: str) -> tuple[str, ...]:
    return (binary, "version")


def init_argv(restic: Restic, repository: Repository) -> tuple[str, ...]:
    return flags.command(restic, repository, "init")


def backup_argv(
    restic: Restic,
    repository: Repository,
    *,
    paths: tuple[pathlib.Path, ...],
    excludes: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    host: str | None = None,
    lock_wait: str | None = "5m",
) -> tuple[str, ...]:
    """Given what to back up, return `restic backup --json ...` with the given tags and excludes;
    where restic can wait for a lock, it waits ``lock_wait`` (None: fail at once when locked)."""
    return flags.command(
        restic,
        repository,
        "backup",
        "--json",
        *flags.repeated("--exclude", excludes),
        *flags.repeated("--tag", tags),
        *(("--host", host) if host else ()),
        *(lock_retry(restic, lock_wait) if lock_wait else ()),
        "--",
        *(str(path) for path in paths),
    )


def snapshots_argv(restic: Restic, repository: Repository) -> tuple[str, ...]:
    return flags.command(restic, repository, "snapshots", "--json", "--no-lock")


def unlock_argv(restic: Restic, repository: Repository) -> tuple[str, ...]:
    """`restic unlock`: removes only stale locks (same host and the process gone, or > 30 min
    old)."""
    return flags.command(restic, repository, "unlock")


def cat_config_argv(restic: Restic, repository: Repository) -> tuple[str, ...]:
    """`restic cat config`: opens the repository with the password, reads nothing else."""
    return flags.command(restic, repository, "cat", "config", "--no-lock")


def check_argv(
    restic: Restic, repository: Repository, *, read_data_subset: str | None = None
) -> tuple[str, ...]:
    subset = ("--read-data-subset", read_data_subset) if read_data_subset else ()
    return flags.command(restic, repository, "check", *subset, *lock_retry(restic))


def restore_argv(
    restic: Restic, repository: Repository, snapshot: str, target: pathlib.Path
) -> tuple[str, ...]:
    return flags.command(restic, repository, "restore", snapshot, "--target", str(target))


def _full_id(snapshot: str) -> None:
    if not SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError(f"not a full snapshot id: {snapshot[:80]!r}")


def forget_argv(
    restic: Restic,
    repository: Repository,
    snapshot_ids: tuple[str, ...],
    *,
    lock_wait: str | None = "5m",
) -> tuple[str, ...]:
    """`restic forget ID...`: removes exactly these snapshots (no policy, no prune); where restic
    can wait for a lock it waits ``lock_wait`` (None: fail at once). Raise ValueError for
    anything but full snapshot ids (64 hex digits)."""
    for snapshot_id in snapshot_ids:
        if not SNAPSHOT_ID.fullmatch(snapshot_id):
            raise ValueError(f"not a full snapshot id: {snapshot_id[:80]!r}")
    waiting = lock_retry(restic, lock_wait) if lock_wait else ()
    return flags.command(restic, repository, "forget", *waiting, "--", *snapshot_ids)


def prune_argv(
    restic: Restic,
    repository: Repository,
    *,
    lock_wait: str | None = "5m",
    repack: bool = True,
) -> tuple[str, ...]:
    """`restic prune`: deletes the data no snapshot uses any more (and repacks, as restic sees
    fit; ``repack`` False: only packs no snapshot uses at all go, none is rewritten); where
    restic can wait for a lock it waits ``lock_wait`` (None: fail at once)."""
    waiting = lock_retry(restic, lock_wait) if lock_wait else ()
    keep_packs = () if repack else ("--max-unused", "unlimited")
    return flags.command(restic, repository, "prune", *keep_packs, *waiting)


def restore_paths_argv(
    restic: Restic,
    repository: Repository,
    snapshot: str,
    target: pathlib.Path,
    *,
    includes: tuple[str, ...] = (),
    verify: bool = False,
    items: bool = False,
) -> tuple[str, ...]:
    """`restic restore SNAPSHOT --target DIR [--include P ...] [--verify]` for a full snapshot id
    and plain absolute paths (raise ValueError for a glob character: restic reads --include as
    a pattern). restic checks every blob it loads against its id (the SHA-256 of its content)
    before writing it; --verify adds a second read of every restored file, checked against the
    same ids; where restic has it, --json for status lines (progress) and, with ``items``,
    --verbose=2 for a line per restored item (restore run hashes each file as restic reports it
    done). The restore holds
    restic's shared lock, so a concurrent prune (rotation) cannot delete data it is reading;
    where restic can, it waits for an exclusive lock to go."""
    _full_id(snapshot)
    for path in includes:
        if not path.startswith("/") or any(character in path for character in "*?[\\\n"):
            raise ValueError("not a plain absolute path in the snapshot")
    json_status = feature.available(feature.Feature.RESTORE_JSON, restic.version)
    items = items and feature.available(feature.Feature.RESTORE_ITEMS, restic.version)
    return flags.command(
        restic,
        repository,
        "restore",
        *(("--json",) if json_status else ()),
        *(("--verbose=2",) if items else ()),
        *lock_retry(restic),
        "--target",
        str(target),
        *flags.repeated("--include", includes),
        *(("--verify",) if verify else ()),
        "--",
        snapshot,
    )


def ls_argv(
    restic: Restic, repository: Repository, snapshot: str, paths: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """`restic ls --json SNAPSHOT [DIR ...]`: one JSON line per node (names, types, sizes; the
    snapshot first). Raise ValueError for anything but a full snapshot id."""
    _full_id(snapshot)
    return flags.command(restic, repository, "ls", "--json", "--no-lock", "--", snapshot, *paths)


def lock_retry(restic: Restic, wait: str = "5m") -> tuple[str, ...]:
    """Wait for a stale or concurrent lock where restic can (>= 0.16); older ones fail at once."""
    if feature.available(feature.Feature.RETRY_LOCK, restic.version):
        return ("--retry-lock", wait)
    return ()
