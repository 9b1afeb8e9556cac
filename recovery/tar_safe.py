"""Unpack a tar archive from a customer's tape into a folder, with restore-grade path safety.

The archive is untrusted. Only directories and regular files are created, and only inside the
target folder: a member with a ``..`` component is skipped, a leading ``/`` is dropped (as GNU
tar does), every path component is opened with O_NOFOLLOW relative to its parent's descriptor
(no symlink is ever followed, none is ever created), an existing entry is replaced only when it
is a regular file. Symlinks, hard links, device nodes and FIFOs are listed, never created.
Everything is written 0700 (folders) and 0600 (files) for the user running the extraction (root
in the workshop): no setuid or setgid bit, no foreign owner; files keep their modification time.
Damaged archives end with a note, not a traceback; with ``damaged_ranges`` (byte ranges of the
archive that hold zeros instead of unreadable records) each member whose data touches such a
range is named.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Skipped:
    name: str
    reason: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Unpacked:
    files: int
    directories: int
    bytes: int
    skipped: tuple[Skipped, ...]
    damaged: tuple[str, ...]  # members whose data touches an unreadable record
    special_bits_dropped: int  # members that carried setuid, setgid or sticky bits
    error: str | None  # why unpacking stopped early (a damaged archive)

    def to_dict(self) -> dict:
        result = dataclasses.asdict(self)
        result["skipped"] = [item.to_dict() for item in self.skipped]
        result["damaged"] = list(self.damaged)
        return result


def safe_parts(name: str) -> tuple[str, ...] | None:
    """Given a member name, return its path components inside the target, None when unsafe."""
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if not parts or ".." in parts or any("\0" in part for part in parts):
        return None
    return parts


def _kind(member: tarfile.TarInfo) -> str | None:
    """Return why a member is not created, None for a directory or regular file."""
    if member.isdir() or member.isreg():
        return None
    if member.issym():
        return f"symbolic link to {member.linkname!r} not created"
    if member.islnk():
        return f"hard link to {member.linkname!r} not created"
    if member.ischr() or member.isblk():
        return "device node not created"
    if member.isfifo():
        return "FIFO not created"
    return f"member type {member.type!r} not created"


@contextlib.contextmanager
def _directory(root: int, parts: tuple[str, ...]) -> Iterator[int]:
    """Yield a descriptor of the directory ``parts`` under ``root``, creating it 0700; every
    component opened with O_NOFOLLOW (a symlink there raises OSError)."""
    descriptor = os.dup(root)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o700, dir_fd=descriptor)
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = child
        yield descriptor
    finally:
        os.close(descriptor)


def _write_member(root: int, parts: tuple[str, ...], source: BinaryIO, mtime: float) -> int:
    with _directory(root, parts[:-1]) as parent:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.lstat(parts[-1], dir_fd=parent).st_mode):
                os.unlink(parts[-1], dir_fd=parent)  # a later member replaces an earlier one
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(parts[-1], flags, 0o600, dir_fd=parent)
        written = 0
        with os.fdopen(descriptor, "wb") as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)
                written += len(chunk)
            os.fchmod(out.fileno(), 0o600)
            out.flush()  # before the time is set: a later write would change it
            with contextlib.suppress(OverflowError, ValueError):  # a nonsense time in the header
                os.utime(out.fileno(), (mtime, mtime))
        return written


def _touches(member: tarfile.TarInfo, ranges: tuple[tuple[int, int], ...]) -> bool:
    start, end = member.offset, member.offset_data + member.size
    return any(start < offset + length and offset < end for offset, length in ranges)


def unpack(
    archive: BinaryIO, target: os.PathLike, *, damaged_ranges: tuple[tuple[int, int], ...] = ()
) -> Unpacked:
    """Given a seekable tar stream (plain or gzip/bzip2/xz-compressed) and an existing folder of
    this user, unpack it there safely; return what was created, skipped and damaged.

    Raise tarfile.ReadError when the stream does not begin with a tar header: past that,
    zero and invalid blocks (unreadable records filled with zeros) are skipped.
    """
    with tarfile.open(fileobj=archive, mode="r|*") as probe:
        if probe.next() is None:
            raise tarfile.ReadError("an empty archive")
    archive.seek(0)
    root = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    counts = {"files": 0, "directories": 0, "bytes": 0, "special": 0}
    skipped: list[Skipped] = []
    damaged: list[str] = []
    error = None
    try:
        with tarfile.open(fileobj=archive, mode="r|*", ignore_zeros=True) as tar:
            try:
                for member in tar:
                    _one(tar, member, root, counts, skipped)
                    if damaged_ranges and _touches(member, damaged_ranges):
                        damaged.append(member.name)
            except (tarfile.TarError, EOFError, OSError) as caught:
                error = f"the archive ends early or is damaged: {caught}"
    finally:
        os.close(root)
    return Unpacked(
        counts["files"],
        counts["directories"],
        counts["bytes"],
        tuple(skipped),
        tuple(damaged),
        counts["special"],
        error,
    )


def _one(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    root: int,
    counts: dict,
    skipped: list[Skipped],
) -> None:
    parts = safe_parts(member.name)
    reason = _kind(member) or (None if parts else "path leaves the target folder")
    if reason is not None:
        skipped.append(Skipped(member.name, reason))
        return
    if member.mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
        counts["special"] += 1
    try:
        if member.isdir():
            with _directory(root, parts):
                counts["directories"] += 1
            return
        source = tar.extractfile(member)
        counts["bytes"] += _write_member(root, parts, source, member.mtime)
        counts["files"] += 1
    except OSError as error:
        if error.errno is None:  # a damaged stream, not a refusal of the folder
            raise
        skipped.append(Skipped(member.name, f"not written: {error.strerror}"))
