"""Where ``tape image`` writes: a .tap file in the job's private image folder, resumable.

The folder is the one ``media image`` uses (recovery/image_folder.py: 0700, created by this
toolkit, recorded with its device and inode numbers); the image is ``J.tap`` (or ``J-LABEL.tap``
for one tape of several), 0600, never opened through a symlink, and held under a lock so that
two runs never write it at once. An interrupted image is cut back to its last complete tape
file and continued from there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import queue
import re
import threading
from typing import BinaryIO

from recovery import errors, image_folder, image_hash, output_lock, tape_files

CHUNK = 4 * 1024 * 1024
QUEUED = 8  # writes (records, up to 16 MiB each) waiting for the digest thread

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


@dataclasses.dataclass(frozen=True)
class TapePaths:
    image: pathlib.Path
    lock: pathlib.Path

    @classmethod
    def in_folder(cls, folder: pathlib.Path, job_id: str, label: str | None) -> TapePaths:
        """Return the paths of the job's tape image; raise InvalidRequest on a bad label."""
        if label is not None and not _LABEL.match(label):
            raise errors.InvalidRequest(
                f"tape label {label!r}: use 1-40 letters, digits, '.', '_' or '-'"
            )
        stem = job_id if label is None else f"{job_id}-{label}"
        return cls(folder / f"{stem}.tap", folder / f"{stem}.tap.lock")

    def to_dict(self) -> dict:
        return {"image": str(self.image)}


def exclusive(paths: TapePaths) -> contextlib.AbstractContextManager[None]:
    """Hold the image's lock (0600, never through a symlink); raise RefusedError when another
    run holds it."""
    return output_lock.exclusive(
        paths.lock, busy=f"another tape image run is writing {paths.image}; wait for it or stop it"
    )


class HashingStream:
    """The image being written, hashed (MD5 and SHA-256) as it is written: no second read of a
    whole tape's image at the end. The digests run on their own thread (hashlib releases the
    GIL), fed through a queue of at most QUEUED writes, so the read loop waits for them only
    when they fall that far behind."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUED)
        self._thread = threading.Thread(target=self._digest, name="tap-digest", daemon=True)
        self._thread.start()

    def _digest(self) -> None:
        while (data := self._queue.get()) is not None:
            self.md5.update(data)
            self.sha256.update(data)

    def write(self, data: bytes) -> int:
        self._queue.put(bytes(data))
        self.size += len(data)
        return self.stream.write(data)

    def hash_existing(self, length: int) -> None:
        """Hash the first ``length`` bytes an earlier run wrote; leave the stream after them."""
        self.stream.seek(0)
        while self.size < length:
            chunk = self.stream.read(min(CHUNK, length - self.size))
            if not chunk:
                raise errors.RecoveryError(f"the image ended at {self.size} of {length} bytes")
            self._queue.put(chunk)
            self.size += len(chunk)

    def stop(self) -> None:
        """End the digest thread once it has hashed everything written (idempotent)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def digests(self) -> image_hash.Digests:
        self.stop()
        return image_hash.Digests(self.md5.hexdigest(), self.sha256.hexdigest(), self.size)


def open_for_writing(
    paths: TapePaths, *, restart: bool
) -> tuple[HashingStream, tape_files.ResumePoint]:
    """Open the image for writing, positioned where the next tape file goes, with what an
    earlier run left already hashed.

    Return the stream and what an earlier run left (no files, offset 0 when starting afresh).
    Raise RefusedError when a finished image is there (unless ``restart``) or the path is not
    a regular file of this user.
    """
    image_folder.create_private(paths.image)
    descriptor = os.open(paths.image, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    stream = os.fdopen(descriptor, "r+b")
    try:
        point = tape_files.ResumePoint((), 0, False)
        if not restart:
            point = tape_files.resume_point(stream)
        if point.ended:
            raise errors.RefusedError(
                f"{paths.image} is a finished image; give --restart to read the tape again"
                " (the image is replaced) or --label for another tape"
            )
        stream.seek(point.offset)
        stream.truncate()
        hashing = HashingStream(stream)
    except BaseException:
        stream.close()
        raise
    try:
        hashing.hash_existing(point.offset)
    except BaseException:
        hashing.stop()
        stream.close()
        raise
    return hashing, point


def finish(hashing: HashingStream) -> None:
    """Flush the image to disk and close it; end the digest thread."""
    try:
        hashing.stop()
        hashing.stream.flush()
        os.fsync(hashing.stream.fileno())
    finally:
        hashing.stream.close()
