"""MD5 and SHA-256 of an image in one read, optionally following ddrescue while it runs.

A block ddrescue marks finished ('+') never changes again, so the finished prefix of the image
(from byte 0 to the first block that is not finished) can be hashed while ddrescue is still
copying; at the end only the rest of the image is read. The digests are those of the final
image file, exactly as a separate pass would give, without a second read of a clean medium.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import pathlib
import queue
import threading
import time
from typing import BinaryIO

from recovery import mapfile as mapfile_module

CHUNK = 4 * 1024 * 1024
RING = 4  # buffers between the reader and the two digest threads: 16 MiB at most


@dataclasses.dataclass(frozen=True)
class Digests:
    md5: str
    sha256: str
    size: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class _DigestThread(threading.Thread):
    """Feed one digest from a FIFO of chunks; release a slot of the shared ring after each."""

    def __init__(self, digest, name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.digest = digest
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.free = threading.Semaphore(RING)  # ring slots this thread is done with

    def run(self) -> None:
        while (chunk := self.inbox.get()) is not None:
            self.digest.update(chunk)
            self.free.release()

    def drain(self) -> None:
        """Return once every chunk handed over so far is hashed."""
        for _ in range(RING):
            self.free.acquire()
        for _ in range(RING):
            self.free.release()


class IncrementalHasher:
    """Hash a growing file from its start; both digests come from the same reads.

    MD5 and SHA-256 each run in their own thread, fed from one read into a ring of RING
    buffers (hashlib releases the GIL on large buffers): the reader fills the next buffer while
    both digests work on earlier ones, and waits only when a digest is RING chunks behind. On
    two free cores the pair costs about the time of MD5 alone, the slower of the two.
    """

    def __init__(self) -> None:
        self._ring = [bytearray(CHUNK) for _ in range(RING)]  # reused: no page faults per chunk
        self._threads = (
            _DigestThread(hashlib.md5(usedforsecurity=False), "md5"),
            _DigestThread(hashlib.sha256(), "sha256"),
        )
        self._started = False
        self._chunks = 0
        self.position = 0

    def advance(
        self, stream: BinaryIO, target: int | None, *, budget_seconds: float | None = None
    ) -> None:
        """Hash from the current position up to ``target`` (None: end of file), within a budget."""
        if not self._started:
            for thread in self._threads:
                thread.start()
            self._started = True
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        stream.seek(self.position)
        while target is None or self.position < target:
            for thread in self._threads:  # the slot is free once both digests are done with it
                thread.free.acquire()
            buffer = memoryview(self._ring[self._chunks % RING])
            wanted = len(buffer) if target is None else min(len(buffer), target - self.position)
            try:
                count = stream.readinto(buffer[:wanted])
            except BaseException:
                self._give_back_slot()
                raise
            if not count:
                self._give_back_slot()
                return
            for thread in self._threads:
                thread.inbox.put(buffer[:count])
            self._chunks += 1
            self.position += count
            if deadline is not None and time.monotonic() > deadline:
                return

    def _give_back_slot(self) -> None:
        for thread in self._threads:
            thread.free.release()

    def digests(self) -> Digests:
        """Wait for both digests to catch up with the reads, stop their threads, return them."""
        md5, sha256 = self._threads
        if self._started:
            for thread in self._threads:
                thread.drain()
                thread.inbox.put(None)
                thread.join()
        return Digests(md5.digest.hexdigest(), sha256.digest.hexdigest(), self.position)


def hash_stream(stream: BinaryIO) -> Digests:
    """Given a binary stream, return its MD5, SHA-256 and size from a single read."""
    hasher = IncrementalHasher()
    hasher.advance(stream, None)
    return hasher.digests()


def hash_file(path: pathlib.Path) -> Digests:
    with open(path, "rb", buffering=0) as stream:
        return hash_stream(stream)


def read_mapfile(path: pathlib.Path) -> mapfile_module.Mapfile | None:
    """Return the parsed mapfile, or None while it is missing, empty or caught mid-write."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return mapfile_module.parse(io.StringIO(text))
    except mapfile_module.MapfileError:
        return None


class FollowingHasher:
    """Hash the finished prefix of an image while ddrescue writes it; finish with the rest."""

    def __init__(self, image: pathlib.Path) -> None:
        self.image = image
        self._hasher = IncrementalHasher()
        self._stream: BinaryIO | None = None

    @property
    def position(self) -> int:
        return self._hasher.position

    def follow(
        self, current: mapfile_module.Mapfile | None, *, budget_seconds: float = 0.5
    ) -> None:
        """Given the latest mapfile, hash what is final and not hashed yet (at most a budget)."""
        if current is None or current.finished_prefix() <= self._hasher.position:
            return
        if self._stream is None:
            if not self.image.exists():
                return
            self._stream = open(self.image, "rb", buffering=0)  # noqa: SIM115 (closed by finish)
        self._hasher.advance(self._stream, current.finished_prefix(), budget_seconds=budget_seconds)

    def finish(self) -> Digests:
        """Hash the rest of the final image and return the digests of the whole file."""
        if self._stream is None:
            self._stream = open(self.image, "rb", buffering=0)  # noqa: SIM115 (closed below)
        try:
            self._hasher.advance(self._stream, None)
        finally:
            self._stream.close()
            self._stream = None
        return self._hasher.digests()
