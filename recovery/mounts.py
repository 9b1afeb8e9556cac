"""Parsers for what the host is using: /proc/self/mountinfo and /proc/swaps.

Parsers take file objects and return plain values, so tests feed ``io.StringIO``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TextIO

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclasses.dataclass(frozen=True)
class Mount:
    major: int
    minor: int
    mountpoint: str
    fstype: str
    source: str


def _unescape(text: str) -> str:
    """Given a mountinfo field, return it with octal escapes (\\040 for a space) decoded."""
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), text)


def parse_mountinfo(file: TextIO) -> tuple[Mount, ...]:
    """Given /proc/self/mountinfo, return its mounts; skip lines that do not have its shape.

    Line shape: ``id parent major:minor root mountpoint options [optional…] - fstype source super``.
    """
    mounts = []
    for line in file:
        fields = line.split()
        if "-" not in fields or len(fields) < 5 or ":" not in fields[2]:
            continue
        separator = fields.index("-")
        if len(fields) < separator + 3:
            continue
        major, minor = (int(part) for part in fields[2].split(":", 1))
        mounts.append(
            Mount(
                major,
                minor,
                _unescape(fields[4]),
                fields[separator + 1],
                _unescape(fields[separator + 2]),
            )
        )
    return tuple(mounts)


def parse_swaps(file: TextIO) -> tuple[str, ...]:
    """Given /proc/swaps, return the swap devices and files it lists (the header is skipped)."""
    names = []
    for line in file:
        fields = line.split()
        if fields and fields[0] != "Filename":
            names.append(_unescape(fields[0]))
    return tuple(names)


def mount_containing(path: str, mounts: tuple[Mount, ...]) -> Mount | None:
    """Given an absolute path, return the mount whose mount point is its longest prefix."""
    best: Mount | None = None
    for mount in mounts:
        prefix = mount.mountpoint.rstrip("/") + "/"
        if (path == mount.mountpoint or path.startswith(prefix) or mount.mountpoint == "/") and (
            best is None or len(mount.mountpoint) >= len(best.mountpoint)
        ):
            best = mount
    return best
