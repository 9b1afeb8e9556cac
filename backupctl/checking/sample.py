"""A restore drill's sample: which files of a snapshot to restore (chosen at random while
restic's listing streams past, in bounded memory), and the comparison of two restored copies.

``Reservoir.offer`` takes one line of `restic ls --json` (restic 0.14 marks nodes with
``struct_type``, 0.17+ with ``message_type``); a line that is not a node is "not this format"
and ignored, a node line that is damaged is logged and skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import random

logger = logging.getLogger(__name__)

PATTERN_CHARACTERS = frozenset("*?[\\\n")  # restic reads --include as a pattern
CHUNK = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Entry:
    path: str  # absolute, as in the snapshot
    size: int


class Reservoir:
    """Keep a uniform random sample of ``count`` files of at most ``largest`` bytes each."""

    def __init__(self, count: int, largest: int, generator: random.Random) -> None:
        self.count, self.largest, self.generator = count, largest, generator
        self.seen = 0
        self.chosen: list[Entry] = []

    def offer(self, line: str) -> None:
        """Given one line of `restic ls --json`, consider it for the sample."""
        entry = parse_node(line)
        if entry is None or not 0 < entry.size <= self.largest:
            return
        if PATTERN_CHARACTERS & set(entry.path) or not entry.path.startswith("/"):
            return
        self.seen += 1
        if len(self.chosen) < self.count:
            self.chosen.append(entry)
            return
        index = self.generator.randrange(self.seen)
        if index < self.count:
            self.chosen[index] = entry


def parse_node(line: str) -> Entry | None:
    """Given a line of `restic ls --json`, return the regular file it describes, or None."""
    try:
        node = json.loads(line)
    except ValueError:
        return None
    if not isinstance(node, dict) or "node" not in (
        node.get("struct_type"),
        node.get("message_type"),
    ):
        return None
    if node.get("type") != "file":
        return None
    path, size = node.get("path"), node.get("size", 0)
    if not isinstance(path, str) or not isinstance(size, int) or size < 0:
        logger.warning("restic ls: a damaged node line was skipped")
        return None
    return Entry(path, size)


def file_digest(root: pathlib.Path, entry: Entry) -> tuple[int, str] | None:
    """Given a restore target and an entry, return the restored file's size and SHA-256 (read
    at most one byte past the expected size, never through a symlink), or None when missing."""
    path = root / entry.path.lstrip("/")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    digest, size = hashlib.sha256(), 0
    with os.fdopen(descriptor, "rb") as stream:
        while size <= entry.size:
            chunk = stream.read(min(CHUNK, entry.size + 1 - size))
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def mismatches(entries: list[Entry], first: pathlib.Path, second: pathlib.Path) -> int:
    """Given the sample and two restore targets, return how many files are missing, differ from
    the listed size, or differ between the two copies."""
    bad = 0
    for entry in entries:
        one, two = file_digest(first, entry), file_digest(second, entry)
        if one is None or two is None or one != two or one[0] != entry.size:
            bad += 1
    return bad
