"""The Merkle roots of a long audit log on a second core: ``audit verify`` checks every record
in its own process while a spawned one reads only the record hashes and builds the tree
(docs/performance.md). Nothing here imports more than the standard library and merkle.py, so
the second process starts quickly."""

from __future__ import annotations

import json
import pathlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterable

from backupctl.audit import merkle

THRESHOLD = 200_000  # records; below it a second process costs more than it saves
_CHILD = "import sys; from backupctl.audit import parallel; parallel.child(sys.argv[1])"


def start(db: pathlib.Path, sizes: Iterable[int]) -> subprocess.Popen:
    """Given the state database and the tree sizes of interest, start computing their roots in
    another Python process (the same interpreter); collect them with ``collect``."""
    process = subprocess.Popen(
        (sys.executable, "-c", _CHILD, str(db)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None
    try:
        process.stdin.write(json.dumps(sorted(set(sizes))).encode())
        process.stdin.close()
    except BrokenPipeError:  # it is gone already: ``collect`` reports how it ended
        pass
    return process


def collect(process: subprocess.Popen, timeout: float = 3600) -> dict[int, tuple[str, str]]:
    """Given a started process, return its roots; raise RuntimeError when it failed."""
    assert process.stdout is not None
    output = process.stdout.read()
    process.wait(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"the Merkle tree process exited {process.returncode}")
    return {int(size): (root, head) for size, (root, head) in json.loads(output).items()}


def child(db: str) -> None:
    """The second process: sizes as JSON on stdin, {size: [root, hash]} as JSON on stdout."""
    sizes = json.loads(sys.stdin.read(1 << 20))
    json.dump(roots(db, [int(size) for size in sizes]), sys.stdout)


def roots(db: str, sizes: list[int]) -> dict[int, tuple[str, str]]:
    """Given the state database's path and tree sizes, return {size: (Merkle root, hash of
    that record)}, hex, read in one statement (one snapshot), read-only."""
    wanted, found = set(sizes), {}
    frontier: list[bytes] = []
    count = 0
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for (stored,) in connection.execute("SELECT hash FROM audit_log ORDER BY seq"):
            count += 1
            frontier.append(merkle.leaf_hash(bytes.fromhex(stored)))
            merged = count
            while not merged & 1:
                right = frontier.pop()
                frontier[-1] = merkle.node_hash(frontier[-1], right)
                merged >>= 1
            if count in wanted:
                found[count] = (merkle.Frontier(count, tuple(frontier)).root().hex(), stored)
    finally:
        connection.close()
    return found
