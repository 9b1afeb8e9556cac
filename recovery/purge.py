"""Delete the workshop's copies of a closed job: exactly the recorded paths, never via a symlink.

Each path is reached from ``/`` one directory at a time with ``O_NOFOLLOW``, so a directory
swapped for a symlink anywhere along the way is refused instead of followed; the entry itself is
examined without following it: a symlink, another user's entry, or a file where a directory was
recorded (or the reverse) is refused and left alone. A directory (a scan's output) is removed
with ``shutil.rmtree`` relative to its parent's descriptor, which never follows a symlink inside
it. Files are unlinked: on an unencrypted disk their blocks stay until overwritten, which is why
``docs/technician-guide.md`` asks for an encrypted workshop volume.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import pathlib
import shutil
import stat
from collections.abc import Iterator

from recovery.closeout import Copy

DELETED, GONE = "deleted", "already gone"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one copy: its record in the destruction event."""

    what: str
    path: str
    result: str  # deleted, already gone, refused: …, failed: …
    size: int | None = None
    files: int | None = None
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.result in (DELETED, GONE)

    def to_dict(self) -> dict:
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


@contextlib.contextmanager
def _parent(path: pathlib.Path) -> Iterator[int]:
    """Yield a descriptor of ``path``'s parent, reached from / without following any symlink."""
    descriptor = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in path.parent.parts[1:]:
            following = os.open(
                part,
                os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                dir_fd=descriptor,
            )
            os.close(descriptor)
            descriptor = following
        yield descriptor
    finally:
        os.close(descriptor)


def _tree_size(name: str, parent: int) -> tuple[int, int]:
    files = size = 0
    for _top, folders, names, top_fd in os.fwalk(name, dir_fd=parent, follow_symlinks=False):
        for entry in (*folders, *names):  # a symlink to a folder is listed among the folders
            info = os.stat(entry, dir_fd=top_fd, follow_symlinks=False)
            files += not stat.S_ISDIR(info.st_mode)
            size += info.st_size if stat.S_ISREG(info.st_mode) else 0
    return files, size


def _refusal(copy: Copy, info: os.stat_result) -> str | None:
    if stat.S_ISLNK(info.st_mode):
        return "refused: it is a symlink (left alone)"
    if info.st_uid != os.geteuid():
        return f"refused: it belongs to another user (uid {info.st_uid})"
    if copy.directory and not stat.S_ISDIR(info.st_mode):
        return "refused: a directory was recorded, this is not one"
    if not copy.directory and not stat.S_ISREG(info.st_mode):
        return "refused: a file was recorded, this is not a regular file"
    return None


def destroy(copy: Copy) -> Outcome:
    """Given one recorded copy, delete it and return the outcome; never raise for the copy's
    own state (a missing, replaced or foreign entry is an outcome, not an exception)."""
    record = {"what": copy.what, "path": str(copy.path), "sha256": copy.recorded_sha256}
    if not copy.path.is_absolute() or copy.path == pathlib.Path("/") or ".." in copy.path.parts:
        return Outcome(**record, result="refused: not an absolute, normal path")
    try:
        with _parent(copy.path) as parent:
            name = copy.path.name
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            refusal = _refusal(copy, info)
            if refusal:
                return Outcome(**record, result=refusal)
            if copy.directory:
                files, size = _tree_size(name, parent)
                shutil.rmtree(name, dir_fd=parent)
                return Outcome(**record, result=DELETED, size=size, files=files)
            os.unlink(name, dir_fd=parent)
            return Outcome(**record, result=DELETED, size=info.st_size)
    except FileNotFoundError:
        return Outcome(**record, result=GONE)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            return Outcome(**record, result="refused: a folder on its path is a symlink")
        return Outcome(**record, result=f"failed: {error.strerror or error}")
