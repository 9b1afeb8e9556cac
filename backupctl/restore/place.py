"""Where a restore writes: the destination below the restore root, a private staging directory
beside it, moving entries in without following symlinks, and the manifest.

Nothing here follows a symlink: every directory from the restore root down to the destination is
checked with ``lstat`` (a symlink or a non-directory refuses the restore), the staging directory
is new and private (0700), entries are moved in with ``rename`` (which moves a symlink itself,
never what it points to) and the manifest is created ``O_EXCL | O_NOFOLLOW``.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import stat

from backupctl.errors import RefusedError
from backupctl.keys import securefile

MANIFEST_SUFFIX = ".manifest.json"


def prepare_destination(root: pathlib.Path, destination: pathlib.Path) -> None:
    """Given the restore root and a destination below it, create what is missing (0700) and check
    that nothing on the way is a symlink or a non-directory and that the destination is empty;
    raise RefusedError otherwise."""
    if not root.exists():
        os.makedirs(root, 0o700)
    _real_directory(root, create=False, what="restore root")
    status = os.lstat(root)
    if status.st_mode & 0o022 or status.st_uid != os.geteuid():
        raise RefusedError(
            f"refused: restore root {root} may be changed by others (owner uid {status.st_uid}, "
            f"mode {stat.S_IMODE(status.st_mode):o}); make it {os.geteuid()}-owned, 0700"
        )
    relative = destination.relative_to(root)
    current = root
    for part in relative.parts:
        current = current / part
        _real_directory(current, create=True, what="destination")
    if any(os.scandir(destination)):
        raise RefusedError(f"refused: destination {destination} is not empty")
    manifest = manifest_path(destination)
    if manifest.exists() or manifest.is_symlink():
        raise RefusedError(f"refused: {manifest} exists already")


def _real_directory(path: pathlib.Path, *, create: bool, what: str) -> None:
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise RefusedError(f"refused: {what} {path} does not exist") from None
        os.mkdir(path, 0o700)
        return
    if stat.S_ISLNK(status.st_mode):
        raise RefusedError(f"refused: {what} {path} is a symbolic link")
    if not stat.S_ISDIR(status.st_mode):
        raise RefusedError(f"refused: {what} {path} is not a directory")


def new_staging(root: pathlib.Path, request_id: str) -> pathlib.Path:
    """Given the restore root, create and return a new private staging directory in it."""
    path = root / f".staging-{request_id}-{secrets.token_hex(4)}"
    os.mkdir(path, 0o700)
    return path


def move_in(staging: pathlib.Path, destination: pathlib.Path) -> int:
    """Move every top-level entry of staging into the destination (rename: a symlink moves as
    itself); remove the empty staging directory; return how many entries moved."""
    moved = 0
    for entry in os.scandir(staging):
        if entry.name in (".", "..") or "/" in entry.name:  # pragma: no cover - the OS forbids
            raise RefusedError(f"refused: staging holds an entry named {entry.name!r}")
        os.rename(entry.path, destination / entry.name)
        moved += 1
    os.rmdir(staging)
    return moved


def manifest_path(destination: pathlib.Path) -> pathlib.Path:
    return destination.with_name(destination.name + MANIFEST_SUFFIX)


def write_manifest(destination: pathlib.Path, document: dict) -> pathlib.Path:
    """Write the manifest next to the destination (new file, 0600); return its path."""
    path = manifest_path(destination)
    data = json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"
    securefile.write_new(path, data, mode=0o600)
    return path
