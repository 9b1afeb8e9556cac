"""Where `media image` writes, made safe against a local user who can write near it.

backupctl runs as root; ddrescue opens the image and mapfile by path. So the image, the mapfile,
ddrescue's mapfile backup and the lock all live in one folder that this toolkit created 0700
for the job: ``<state>/jobs/J/`` by default, ``DIR/J/`` with ``--out DIR``. Nobody else can
plant a symlink or a file inside it. Around it:

* ``--out DIR`` is refused when it is a symlink, owned by another user, or writable by others
  without the sticky bit (then another user could swap ``DIR/J`` for a symlink); the same holds
  for every directory above it. Not a directory at all (a block device): a usage error.
* The folder's device and inode numbers are kept in the state database (``image_state``); a
  resumed run reopens the folder only when it is still that very folder, a directory owned by
  this user, and the image and mapfile in it are regular files of this user (no symlink, one link).
"""

from __future__ import annotations

import os
import pathlib
import stat

from recovery import errors
from recovery.image_state import FolderRecord


def out_dir_reasons(out_dir: pathlib.Path) -> tuple[str, ...]:
    """Given ``--out DIR`` (it may not exist yet), return why writing under it is unsafe.

    Raise InvalidRequest when it exists and is neither a directory nor a symlink (a device).
    """
    out_dir = pathlib.Path(os.path.abspath(out_dir))
    reasons = []
    if os.path.lexists(out_dir):
        info = os.lstat(out_dir)
        if stat.S_ISLNK(info.st_mode):
            return (f"--out {out_dir} is a symlink; give the real directory",)
        if not stat.S_ISDIR(info.st_mode):
            raise errors.InvalidRequest(f"--out {out_dir} is not a directory")
    existing = out_dir
    while not os.path.lexists(existing):
        existing = existing.parent
    resolved = pathlib.Path(os.path.realpath(existing))
    for folder in (existing, *existing.parents, resolved, *resolved.parents):
        reasons += _directory_reasons(folder)
    return tuple(dict.fromkeys(reasons))


def _directory_reasons(folder: pathlib.Path) -> list[str]:
    info = os.stat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise errors.InvalidRequest(f"--out: {folder} is not a directory")
    reasons = []
    if info.st_uid not in (0, os.geteuid()):
        reasons.append(f"{folder} belongs to another user (uid {info.st_uid})")
    writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable_by_others and not info.st_mode & stat.S_ISVTX:
        reasons.append(f"{folder} is writable by other users and has no sticky bit")
    return reasons


def open_folder(
    folder: pathlib.Path, recorded: FolderRecord | None, *, job_id: str, fresh: bool
) -> FolderRecord:
    """Given the job's image folder and what the state records, return the folder's record.

    A folder the state records is reopened only if it is that same directory (device and inode)
    and still this user's; otherwise ``fresh`` creates it now (0700; it must not exist), and a
    job folder made by ``job open`` is taken when it holds no image or mapfile yet. Raise
    RefusedError for anything else.
    """
    if recorded is not None and recorded.folder == folder:
        info = _own_directory(folder, job_id)
        if (info.st_dev, info.st_ino) != (recorded.device, recorded.inode):
            raise errors.RefusedError(
                f"{folder} is not the folder backupctl created for job {job_id}: it was replaced"
            )
        return recorded
    if fresh:
        folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            raise errors.RefusedError(
                f"{folder} already exists and was not created by backupctl for job {job_id};"
                " remove it or choose another --out"
            ) from None
    info = _own_directory(folder, job_id)
    if any(os.path.lexists(folder / name) for name in (f"{job_id}.img", f"{job_id}.map")):
        raise errors.RefusedError(
            f"{folder} holds an image or mapfile that backupctl did not create for job {job_id}"
        )
    return FolderRecord(folder, info.st_dev, info.st_ino)


def _own_directory(folder: pathlib.Path, job_id: str) -> os.stat_result:
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        raise errors.RefusedError(f"the image folder {folder} of job {job_id} is gone") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise errors.RefusedError(
            f"{folder} is not a directory of this user (a symlink?): refusing to write there"
        )
    os.chmod(folder, 0o700)
    return info


def check_own_file(path: pathlib.Path) -> None:
    """Refuse an existing image or mapfile that is not a regular file of this user with one link."""
    if not os.path.lexists(path):
        return
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_nlink != 1:
        raise errors.RefusedError(
            f"{path} exists and is not a regular file of this user (a symlink or a link)"
        )


def create_private(path: pathlib.Path) -> None:
    """Create ``path`` empty, 0600, never through a symlink; leave an own regular file as it is."""
    check_own_file(path)
    try:
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
    except FileExistsError:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)


def make_private(path: pathlib.Path) -> None:
    """chmod 0600 a file ddrescue created (its mapfile backup), never through a symlink."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, OSError):
        return
    try:
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
