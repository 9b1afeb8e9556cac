"""Run the restic subcommands backupctl needs and turn their output into values."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
from collections.abc import Callable

from backupctl.errors import BackupctlError
from backupctl.keys.secret import Secret
from backupctl.restic import commands, execute, feature, messages
from backupctl.restic.flags import Repository, Restic


class ResticError(BackupctlError):
    """restic failed; the message says where and why (never the password)."""


@dataclasses.dataclass(frozen=True)
class BackupOutcome:
    result: execute.Result
    summary: messages.Summary | None
    item_errors: tuple[messages.ItemError, ...]


def detect(binary: str, cache_dir: pathlib.Path) -> Restic:
    """Given the restic binary, return it with its version; raise ResticError when it cannot run.

    The version is remembered next to restic's cache, keyed by the binary's path, size and mtime,
    so a run does not pay for an extra `restic version` unless restic was upgraded.
    """
    path = shutil.which(binary)
    if path is None:
        raise ResticError(f"restic binary {binary!r} not found (install the restic package)")
    stat = os.stat(path)
    key = f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
    memo = cache_dir / "backupctl-restic-version.json"
    try:
        remembered = json.loads(memo.read_text())
        if remembered.get("key") == key:
            return Restic(binary=path, version=tuple(remembered["version"]), cache_dir=cache_dir)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        output = subprocess.run(
            commands.version_argv(path), capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise ResticError(f"cannot run {path} version: {error}") from None
    version = feature.parse_version(output)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        memo.write_text(json.dumps({"key": key, "version": list(version)}))
    except OSError:
        pass  # remembering is an optimisation only
    return Restic(binary=path, version=version, cache_dir=cache_dir)


def init(restic: Restic, repository: Repository, password: Secret) -> execute.Result:
    return execute.run(
        commands.init_argv(restic, repository),
        password=password,
        environment=repository.environment,
        timeout=600,
    )


def backup(
    restic: Restic,
    repository: Repository,
    password: Secret,
    *,
    paths: tuple[pathlib.Path, ...],
    excludes: tuple[str, ...],
    tags: tuple[str, ...],
    on_status: Callable[[messages.Status], None] | None = None,
    lock_wait: str | None = "5m",
) -> BackupOutcome:
    """Back paths up; return the result with restic's summary and per-file errors. ``lock_wait``:
    how long a restic that can wait for a lock waits (None: fail at once when locked)."""
    summaries: list[messages.Summary] = []
    item_errors: list[messages.ItemError] = []

    def on_line(line: str) -> None:
        message = messages.parse_backup_line(line)
        if isinstance(message, messages.Status) and on_status is not None:
            on_status(message)
        elif isinstance(message, messages.Summary):
            summaries.append(message)
        elif isinstance(message, messages.ItemError):
            item_errors.append(message)

    argv = commands.backup_argv(
        restic, repository, paths=paths, excludes=excludes, tags=tags, lock_wait=lock_wait
    )
    result = execute.run(
        argv, password=password, environment=repository.environment, on_line=on_line
    )
    for line in result.stderr.splitlines():  # restic < 0.17 prints its JSON errors on stderr
        message = messages.parse_backup_line(line)
        if isinstance(message, messages.ItemError):
            item_errors.append(message)
    return BackupOutcome(result, summaries[-1] if summaries else None, tuple(item_errors))


def snapshots(restic: Restic, repository: Repository, password: Secret) -> list[messages.Snapshot]:
    """Return the repository's snapshots, oldest first; raise ResticError when restic fails."""
    result = execute.run(
        commands.snapshots_argv(restic, repository),
        password=password,
        environment=repository.environment,
        timeout=600,
    )
    if not result.ok:
        raise ResticError(f"snapshots of {repository.url}: {result.reason()}")
    try:
        return messages.parse_snapshots(result.stdout)
    except (ValueError, KeyError, TypeError) as error:
        raise ResticError(
            f"snapshots of {repository.url}: unexpected output from restic: "
            f"{type(error).__name__}: {error}"
        ) from None


def unlock(restic: Restic, repository: Repository, password: Secret) -> execute.Result:
    """Remove the repository's stale locks (restic decides which are stale)."""
    return execute.run(
        commands.unlock_argv(restic, repository),
        password=password,
        environment=repository.environment,
        timeout=300,
    )


def open_check(restic: Restic, repository: Repository, password: Secret) -> execute.Result:
    """Return whether the password opens the repository (outcome WRONG_PASSWORD when it does
    not)."""
    return execute.run(
        commands.cat_config_argv(restic, repository),
        password=password,
        environment=repository.environment,
        timeout=300,
    )


def forget(
    restic: Restic,
    repository: Repository,
    password: Secret,
    snapshot_ids: tuple[str, ...],
    *,
    lock_wait: str | None = "5m",
) -> execute.Result:
    """Remove exactly these snapshots from the repository (their data stays until prune)."""
    return execute.run(
        commands.forget_argv(restic, repository, snapshot_ids, lock_wait=lock_wait),
        password=password,
        environment=repository.environment,
        timeout=3600,
    )


def prune(
    restic: Restic,
    repository: Repository,
    password: Secret,
    *,
    on_line: Callable[[str], None] | None = None,
    lock_wait: str | None = "5m",
    repack: bool = True,
) -> tuple[execute.Result, messages.PruneSummary]:
    """Delete the data no snapshot uses any more; return restic's result and its summary. Every
    stdout line also goes to ``on_line`` (progress)."""
    lines: list[str] = []

    def keep(line: str) -> None:
        lines.append(line)
        if on_line is not None:
            on_line(line)

    result = execute.run(
        commands.prune_argv(restic, repository, lock_wait=lock_wait, repack=repack),
        password=password,
        environment=repository.environment,
        on_line=keep,
        timeout=24 * 3600,
    )
    return result, messages.parse_prune_output("\n".join(lines))


def check(
    restic: Restic, repository: Repository, password: Secret, *, read_data_subset: str | None
) -> execute.Result:
    """Run `restic check` (reading ``read_data_subset`` of the data, e.g. "2/4"); its result
    tells whether the repository is sound."""
    return execute.run(
        commands.check_argv(restic, repository, read_data_subset=read_data_subset),
        password=password,
        environment=repository.environment,
        timeout=24 * 3600,
    )


def ls(
    restic: Restic,
    repository: Repository,
    password: Secret,
    snapshot: str,
    *,
    on_line: Callable[[str], None],
) -> execute.Result:
    """List a snapshot's nodes: each JSON line goes to ``on_line`` as it comes (a snapshot may
    hold millions of files; nothing is kept here)."""
    return execute.run(
        commands.ls_argv(restic, repository, snapshot),
        password=password,
        environment=repository.environment,
        on_line=on_line,
        timeout=6 * 3600,
    )


def restore_files(
    restic: Restic,
    repository: Repository,
    password: Secret,
    snapshot: str,
    *,
    target: pathlib.Path,
    paths: tuple[str, ...],
) -> execute.Result:
    """Restore these paths of a snapshot below ``target``, verified by restic."""
    return execute.run(
        commands.restore_paths_argv(
            restic, repository, snapshot, target, includes=paths, verify=True
        ),
        password=password,
        environment=repository.environment,
        timeout=6 * 3600,
    )
