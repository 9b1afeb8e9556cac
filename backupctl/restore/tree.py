"""A snapshot's listing against what restic restored: names that could escape, and a restored
tree that differs from the listing. Pure over values, except ``restored_entries`` which walks a
directory without following symlinks."""

from __future__ import annotations

import os
import pathlib
import posixpath
import stat
from collections.abc import Iterable

from backupctl.restic.restoring import Node

KINDS = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}


def escape_problem(nodes: Iterable[Node]) -> str | None:
    """Given a listing, return why restoring it could write outside the target (a name that is
    empty, '.', '..' or holds '/', a path that is not its parent's plus its name), or None."""
    seen: set[str] = set()
    for node in nodes:
        if node.path in seen:  # e.g. a symlink and a directory of one name: never well-formed
            return f"the snapshot lists {node.path!r} twice"
        seen.add(node.path)
        if node.name in ("", ".", "..") or "/" in node.name or "\0" in node.name:
            return f"the snapshot holds an entry named {node.name!r} (at {node.path!r})"
        parent = posixpath.dirname(node.path)
        if not node.path.startswith("/") or posixpath.join(parent, node.name) != node.path:
            return f"the snapshot holds an entry whose path {node.path!r} does not match its name"
        if posixpath.normpath(node.path) != node.path:
            return f"the snapshot holds a path that is not normal: {node.path!r}"
    return None


def selected(nodes: Iterable[Node], paths: tuple[str, ...]) -> tuple[Node, ...]:
    """Given a listing and the requested paths (none: all), return the nodes restored."""
    if not paths:
        return tuple(nodes)
    return tuple(
        node
        for node in nodes
        if any(node.path == path or node.path.startswith(path.rstrip("/") + "/") for path in paths)
    )


def missing_paths(nodes: Iterable[Node], paths: tuple[str, ...]) -> list[str]:
    """Given a listing and requested paths, return those the listing does not hold."""
    listed = {node.path for node in nodes}
    return [path for path in paths if path not in listed]


def ancestors(paths: Iterable[str]) -> frozenset[str]:
    """Given snapshot paths, return every directory above them ('/a/b' gives '/a')."""
    found = set()
    for path in paths:
        parent = posixpath.dirname(path)
        while parent not in ("/", ""):
            found.add(parent)
            parent = posixpath.dirname(parent)
    return frozenset(found)


def restored_entries(staging: pathlib.Path) -> dict[str, tuple[str, int]]:
    """Given the staging directory, return {snapshot path: (kind, size)} for everything in it,
    never following a symlink ("other" for devices, FIFOs and sockets)."""
    found: dict[str, tuple[str, int]] = {}
    pending = [(str(staging), "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                status = entry.stat(follow_symlinks=False)
                kind = KINDS.get(stat.S_IFMT(status.st_mode), "other")
                relative = f"{prefix}/{entry.name}"
                found[relative] = (kind, status.st_size if kind == "file" else 0)
                if kind == "dir":
                    pending.append((entry.path, relative))
    return found


def differences(
    expected: tuple[Node, ...], restored: dict[str, tuple[str, int]], paths: tuple[str, ...]
) -> list[str]:
    """Given the listed nodes, what is in staging and the requested paths, return each
    difference as a sentence (missing, wrong type, wrong size, not in the snapshot)."""
    problems = []
    listed = {node.path: node for node in expected}
    for node in expected:
        found = restored.get(node.path)
        if found is None:
            problems.append(f"{node.path}: listed in the snapshot, not restored")
        elif node.type in KINDS.values() and found[0] != node.type:
            problems.append(f"{node.path}: a {node.type} in the snapshot, restored as {found[0]}")
        elif node.type == "file" and found[1] != node.size:
            problems.append(f"{node.path}: {node.size} bytes in the snapshot, {found[1]} restored")
    allowed = ancestors(listed) if paths else frozenset()
    for path in sorted(set(restored) - set(listed) - allowed):
        problems.append(f"{path}: restored, but not in the snapshot's listing")
    return problems
