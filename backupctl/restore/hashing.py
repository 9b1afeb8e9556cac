"""The manifest's SHA-256 of every restored file, read once, overlapped with restic's restore
where restic says when a file is done.

restic 0.17 and later, run with ``--json --verbose=2``, print a ``verbose_status`` line (action
"restored") for each item it finishes. For a file that line comes once its last blob has been
written and the file closed (``internal/restorer``: ``writeToFile`` releases, and closes, the file
before ``reportBlobProgress`` counts the blob; the line is printed when the count reaches the
file's size), and before restic's second pass sets its mode, owner, times and extended
attributes, which never change its contents. So a file is hashed as soon as it is reported, in
worker threads (hashlib and reads release the GIL) while restic goes on with the others. restic
0.14 reports nothing per file: there every file is hashed after restic, as before. Either way a
file read early whose size is not the listing's is read again after restic, and the comparison
of the staged tree with the listing still runs after restic.

A reported path that is neither in the listing nor above a requested path is a difference, like
an extra entry in staging.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import pathlib
import threading
from collections.abc import Callable

from backupctl.errors import BackupctlError, ExitCode
from backupctl.restic.restoring import Node
from backupctl.restore import tree

CHUNK = 1024 * 1024
THREADS = 2
MAX_REPORTED_UNEXPECTED = 100


class HashingFailed(BackupctlError):
    """A restored file could not be read back as the listing describes it."""

    exit_code = ExitCode.FAILED


class Stopped(Exception):
    """Hashing was stopped (the restore failed or was interrupted)."""


def digest_of(path: pathlib.Path, stop: threading.Event | None = None) -> tuple[str, int]:
    """Given a regular file (opened without following symlinks), return (SHA-256 hex, bytes read);
    raise Stopped when ``stop`` is set while reading."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    size = 0
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with open(descriptor, "rb", buffering=0) as stream:
        while count := stream.readinto(buffer):
            if stop is not None and stop.is_set():
                raise Stopped
            digest.update(view[:count])
            size += count
    return digest.hexdigest(), size


class Hasher:
    """Hashes the files of one restore, each once: those restic reports done while it runs
    (``restored``), the rest in ``results`` after it. Use as a context manager: leaving it stops
    and waits for the worker threads."""

    def __init__(
        self,
        staging: pathlib.Path,
        expected: tuple[Node, ...],
        paths: tuple[str, ...],
        *,
        threads: int = THREADS,
    ) -> None:
        self._staging = staging
        self._files = {node.path: node for node in expected if node.type == "file"}
        listed = {node.path for node in expected}
        self._known = listed | (tree.ancestors(listed) if paths else frozenset()) | {"/"}
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, "restore-hash")
        self._stop = threading.Event()
        self._early: dict[str, concurrent.futures.Future] = {}
        self._unexpected: list[str] = []
        self._unexpected_count = 0

    def __enter__(self) -> Hasher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def restored(self, item: str) -> None:
        """Given a snapshot path restic reports restored, start hashing it when it is a listed
        file (once), or keep it as a difference when it is not in the listing."""
        if item in self._files:
            if item not in self._early:
                self._early[item] = self._pool.submit(self._digest, item)
        elif item not in self._known:
            self._unexpected_count += 1
            if len(self._unexpected) < MAX_REPORTED_UNEXPECTED:
                self._unexpected.append(item)

    @property
    def hashed_early(self) -> int:
        """How many files were handed to the workers while restic ran."""
        return len(self._early)

    def differences(self) -> list[str]:
        """Return each reported path that is not in the listing, as a sentence."""
        more = self._unexpected_count - len(self._unexpected)
        found = [f"{path}: restic reports it restored, not listed" for path in self._unexpected]
        return found + ([f"... and {more} more reported paths not in the listing"] if more else [])

    def results(self, on_bytes: Callable[[int, int], None]) -> list[dict]:
        """After restic ended and staging matched the listing, return the manifest's entries
        (path, size, SHA-256), sorted by path, hashing what was not hashed yet; call
        ``on_bytes(done, total)`` per file; raise HashingFailed when a file read after restic is
        not the listed size."""
        regular = sorted(self._files.values(), key=lambda node: node.path)
        total, done = sum(node.size for node in regular), 0
        futures = [
            self._early.get(node.path) or self._pool.submit(self._digest, node.path)
            for node in regular
        ]
        files = []
        for node, future in zip(regular, futures, strict=True):
            digest = self._settled(node, future)
            files.append({"path": node.path, "size": node.size, "sha256": digest})
            done += node.size
            on_bytes(done, total)
        return files

    def _settled(self, node: Node, future: concurrent.futures.Future) -> str:
        try:
            digest, size = future.result()
        except OSError:  # reported but not (yet) readable: read it again now that restic ended
            digest, size = "", -1
        if size != node.size:
            digest, size = self._digest(node.path)
        if size != node.size:
            raise HashingFailed(f"{node.path}: {node.size} bytes listed, {size} read back")
        return digest

    def _digest(self, path: str) -> tuple[str, int]:
        return digest_of(self._staging / path.lstrip("/"), self._stop)
