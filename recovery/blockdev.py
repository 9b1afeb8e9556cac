"""Kernel facts about block devices: the read-only flag (BLKROGET/BLKROSET), device numbers,
what is stacked on a device, and free space. The source is only ever opened O_RDONLY.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import logging
import os
import pathlib
import stat
import struct
from collections.abc import Iterator
from typing import Protocol

from recovery import errors

logger = logging.getLogger(__name__)

BLKROSET = 0x125D  # _IO(0x12, 93)
BLKROGET = 0x125E  # _IO(0x12, 94)
SYS_DEV_BLOCK = pathlib.Path("/sys/dev/block")


def device_number(node: str) -> tuple[int, int]:
    """Given a block device node, return (major, minor); raise DeviceNotFound when it is not one."""
    try:
        info = os.stat(node)
    except OSError as error:
        raise errors.DeviceNotFound(f"{node}: {error.strerror}") from None
    if not stat.S_ISBLK(info.st_mode):
        raise errors.DeviceNotFound(f"{node} is not a block device")
    return os.major(info.st_rdev), os.minor(info.st_rdev)


def stacked_numbers(
    number: tuple[int, int], *, sys_root: pathlib.Path = SYS_DEV_BLOCK
) -> frozenset:
    """Given a device number, return it with those of its partitions and of everything built on
    them (device-mapper, md and LVM, through sysfs ``holders``): a file system on any of these
    lives on the source medium. (A loop device over a file on the medium is not followed.)
    """
    found: set[tuple[int, int]] = set()
    pending = [sys_root / f"{number[0]}:{number[1]}"]
    while pending:
        directory = pending.pop().resolve()
        dev_file = directory / "dev"
        if not dev_file.exists():
            continue
        major, minor = dev_file.read_text().strip().split(":")
        if (int(major), int(minor)) in found:
            continue
        found.add((int(major), int(minor)))
        pending.extend(child for child in directory.iterdir() if (child / "partition").exists())
        holders = directory / "holders"
        if holders.is_dir():
            pending.extend(holders.iterdir())
    return frozenset(found)


def filesystem_number(path: pathlib.Path) -> tuple[int, int]:
    """Return the (major, minor) of the file system holding ``path`` (an existing directory)."""
    info = os.stat(path)
    return os.major(info.st_dev), os.minor(info.st_dev)


def free_bytes(path: pathlib.Path) -> int:
    """Return the bytes an unprivileged writer may still use on the file system of ``path``."""
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


def get_read_only(node: str) -> bool:
    descriptor = os.open(node, os.O_RDONLY | os.O_CLOEXEC)
    try:
        result = fcntl.ioctl(descriptor, BLKROGET, struct.pack("i", 0))
        return struct.unpack("i", result)[0] != 0
    finally:
        os.close(descriptor)


def set_read_only(node: str, value: bool) -> None:
    """Set the kernel read-only flag of ``node``; the device is opened read-only for the ioctl."""
    descriptor = os.open(node, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(descriptor, BLKROSET, struct.pack("i", 1 if value else 0))
    finally:
        os.close(descriptor)


@dataclasses.dataclass(frozen=True)
class ReadOnlyGuard:
    enforced: bool
    previous: bool | None
    reason: str | None


class ReadOnlyRecord(Protocol):
    """Where the original read-only flag of a device is kept while it is held read-only."""

    def load(self, node: str) -> bool | None: ...

    def save(self, node: str, value: bool) -> None: ...

    def clear(self, node: str) -> None: ...


@contextlib.contextmanager
def read_only(node: str, *, record: ReadOnlyRecord) -> Iterator[ReadOnlyGuard]:
    """Hold ``node`` read-only in the kernel for the block, then put the previous flag back.

    A device that is read-only already is left alone: BLKROSET sets the block device's own
    policy flag, which outlives the medium (a loop device keeps it across re-attachment), so
    "restoring" a read-only state inherited from elsewhere would leave the device stuck.
    The original flag is saved in ``record`` (the toolkit's state database, never a file beside
    the image) before it changes: if backupctl is killed before it can restore the flag, the
    next run finds the true original there, not its own "1".
    Where the kernel refuses the ioctl, the block runs anyway and the guard says why.
    """
    guard = _take(node, record)
    try:
        yield guard
    finally:
        if guard.enforced and guard.previous is False:
            _restore(node, record)


def _take(node: str, record: ReadOnlyRecord) -> ReadOnlyGuard:
    try:
        if _original_flag(node, record):
            record.clear(node)
            return ReadOnlyGuard(enforced=True, previous=True, reason="already read-only")
        set_read_only(node, True)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        logger.warning("%s: cannot set the kernel read-only flag: %s", node, reason)
        return ReadOnlyGuard(enforced=False, previous=None, reason=reason)
    return ReadOnlyGuard(enforced=True, previous=False, reason=None)


def _restore(node: str, record: ReadOnlyRecord) -> None:
    try:
        set_read_only(node, False)
        record.clear(node)
    except OSError as error:
        if error.errno != errno.ENOENT:  # a medium pulled out has no flag to restore
            logger.warning("%s: cannot restore the read-only flag: %s", node, error.strerror)


def _original_flag(node: str, record: ReadOnlyRecord) -> bool:
    saved = record.load(node)
    if saved is not None:
        return saved
    current = get_read_only(node)
    record.save(node, current)
    return current
