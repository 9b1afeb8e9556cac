"""Run `restic ls` and `restic restore` for the restore path, and parse what `ls --json` prints.

The parser takes lines, so tests feed crafted listings (names such as '..' that restic itself
never writes but a forged repository could hold).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable, Iterable

from backupctl.keys.secret import Secret
from backupctl.restic import commands, execute
from backupctl.restic.flags import Repository, Restic
from backupctl.restic.operations import ResticError

NODE_TYPES = ("file", "dir", "symlink", "dev", "chardev", "fifo", "socket", "irregular")
MAX_LISTED_NODES = 5_000_000


@dataclasses.dataclass(frozen=True)
class Node:
    """One entry of a snapshot's tree, as `restic ls --json` lists it."""

    path: str  # absolute inside the snapshot, e.g. "/data/dir0/file.bin"
    name: str
    type: str
    size: int  # files only; 0 otherwise


def parse_ls(lines: Iterable[str]) -> tuple[str, tuple[Node, ...]]:
    """Given the lines of `restic ls --json`, return (snapshot id, nodes); raise ValueError when
    the output is not what restic prints."""
    snapshot_id, nodes = "", []
    for line in lines:
        if not line.strip():
            continue
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError("a line is not a JSON object")
        kind = message.get("message_type") or message.get("struct_type")
        if kind == "snapshot":
            snapshot_id = str(message["id"])
        elif kind == "node":
            nodes.append(_node(message))
            if len(nodes) > MAX_LISTED_NODES:
                raise ValueError(f"more than {MAX_LISTED_NODES} entries")
    if not snapshot_id:
        raise ValueError("no snapshot line")
    return snapshot_id, tuple(nodes)


def _node(message: dict) -> Node:
    path, name, kind = message["path"], message["name"], message["type"]
    if not all(isinstance(value, str) for value in (path, name, kind)):
        raise ValueError("a node's path, name or type is not text")
    size = message.get("size", 0) if kind == "file" else 0
    if not isinstance(size, int) or size < 0:
        raise ValueError("a node's size is not a count")
    return Node(path, name, kind, size)


def ls(
    restic: Restic,
    repository: Repository,
    password: Secret,
    snapshot: str,
    paths: tuple[str, ...] = (),
) -> tuple[str, tuple[Node, ...]]:
    """List a snapshot (below ``paths``, or all of it); raise ResticError when restic fails."""
    lines: list[str] = []
    result = execute.run(
        commands.ls_argv(restic, repository, snapshot, paths),
        password=password,
        environment=repository.environment,
        on_line=lines.append,
        timeout=3600,
    )
    if not result.ok:
        raise ResticError(f"ls of {snapshot} at {repository.url}: {result.reason()}")
    try:
        return parse_ls(lines)
    except (ValueError, KeyError, TypeError) as error:
        raise ResticError(f"ls of {snapshot}: unexpected output from restic: {error}") from None


def restore(
    restic: Restic,
    repository: Repository,
    password: Secret,
    snapshot: str,
    target: pathlib.Path,
    includes: tuple[str, ...],
    on_bytes: Callable[[int, int], None] = lambda done, total: None,
    on_restored: Callable[[str], None] | None = None,
) -> execute.Result:
    """Restore a snapshot, or the given paths of it, into ``target`` (restic checks each blob
    it loads against its id, the SHA-256 of its content, and fails the restore on a mismatch);
    call ``on_bytes(restored, total)`` for each status line restic prints (restic >= 0.17) and,
    when given, ``on_restored(path)`` for each item restic reports restored (restic >= 0.17:
    a file once its last blob is written and it is closed; its mode, owner and times come later,
    its contents do not change)."""

    def on_line(line: str) -> None:
        message = _message(line)
        if message is None:
            return
        status = restore_status(message)
        if status is not None:
            on_bytes(*status)
        elif on_restored is not None:
            item = restored_item(message)
            if item is not None:
                on_restored(item)

    return execute.run(
        commands.restore_paths_argv(
            restic, repository, snapshot, target, includes=includes, items=on_restored is not None
        ),
        password=password,
        environment=repository.environment,
        on_line=on_line,
    )


def _message(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None


def parse_restore_status(line: str) -> tuple[int, int] | None:
    """Given a line of `restic restore --json`, return (bytes restored, total bytes) of a status
    or summary line, else None."""
    message = _message(line)
    return None if message is None else restore_status(message)


def restore_status(message: dict) -> tuple[int, int] | None:
    """Given a message of `restic restore --json`, return (bytes restored, total bytes) of a
    status or summary line, else None."""
    if message.get("message_type") not in ("status", "summary"):
        return None
    done, total = message.get("bytes_restored", 0), message.get("total_bytes", 0)
    if not all(isinstance(value, int) and value >= 0 for value in (done, total)):
        return None
    return done, total


def restored_item(message: dict) -> str | None:
    """Given a message of `restic restore --json --verbose=2`, return the snapshot path of an
    item reported restored (a `verbose_status` line, action "restored"), else None."""
    if message.get("message_type") != "verbose_status" or message.get("action") != "restored":
        return None
    item = message.get("item")
    return item if isinstance(item, str) and item else None
