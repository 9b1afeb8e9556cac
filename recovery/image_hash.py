"""MD5 and SHA-256 of an image in one read, optionally following ddrescue while it runs.

A block ddrescue marks finished ('+') never changes again, so the finished prefix of the image
(from byte 0 to the first block that is not finished) can be hashed while ddrescue is still
copying; at the end only the rest of the image is read. The digests are those of the final
image file, exactly as a separate pass would give, without a second read of a clean medium.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import io
import pathlib
import time
from typing import BinaryIO

from recovery import mapfile as mapfile_module

CHUNK = 4 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Digests:
    md5: str
    sha256: str
    size: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class IncrementalHasher:
    """Hash a growing file from its start; both digests come from the same reads.

    SHA-256 runs in a worker thread while MD5 runs in the caller's (hashlib releases the GIL on
    large buffers), so the two digests cost about the time of the slower one on two cores.
    """

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._buffer = bytearray(CHUNK)
        self.position = 0

    def advance(
        self, stream: BinaryIO, target: int | None, *, budget_seconds: float | None = None
    ) -> None:
        """Hash from the current position up to ``target`` (None: end of file), within a budget."""
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        stream.seek(self.position)
        buffer = memoryview(self._buffer)  # one buffer, reused: no page faults per chunk
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sha256") as worker:
            while target is None or self.position < target:
                wanted = CHUNK if target is None else min(CHUNK, target - self.position)
                count = stream.readinto(buffer[:wanted])
                if not count:
                    return
                chunk = buffer[:count]
                pending = worker.submit(self._sha256.update, chunk)
                self._md5.update(chunk)
                pending.result()
                self.position += count
                if deadline is not None and time.monotonic() > deadline:
                    return

    def digests(self) -> Digests:
        return Digests(self._md5.hexdigest(), self._sha256.hexdigest(), self.position)


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
