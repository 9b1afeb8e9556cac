"""The Sleuth Kit in a child process (``tsk_worker``), each step bounded in time.

libtsk runs C code over the customer's untrusted image: a damaged superblock made one lookup
take 13 s in the fuzz run, and a crash in it would end the whole scan with no custody event.
So the scan talks to a worker process over a pipe, and every step has a deadline: opening the
image, listing a file system (its named files; its orphan files), and each chunk of a file
read. A worker that crashes, hangs past the deadline or answers nonsense is killed; that
becomes a warning, the file system is partly listed (or its file unreadable), and the scan
goes on with a fresh worker.

Listings may be asked for ahead (``ask``): the worker works on them while the scan does
something else, and ``walk`` takes the answers later; their deadline runs from then. A scan
uses a second client so that TSK's orphan search runs beside the named files' listing.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import pathlib
import select
import signal
import time
from collections.abc import Callable, Iterable, Sequence

from recovery import tsk_process
from recovery.scan_model import ByteRun, FoundFile, Partition

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3600.0  # per step; generous: a large damaged volume can take TSK minutes
MAX_LINE = 64 << 20  # a file with a very long run list is one long line
MAX_CHUNK = 4 << 20
WINDOW = 16  # reads asked for ahead: small requests, never filling the request pipe
READ_FAILURES = 2  # reads of one file system that may fail before it is given up

Warn = Callable[[str], None]


class WorkerFailed(Exception):
    """The worker crashed, hung past its deadline or broke the protocol."""


def _found(values: dict) -> FoundFile:
    runs = tuple(ByteRun(int(offset), int(length)) for offset, length in values["runs"])
    return FoundFile(**{**values, "runs": runs})


class TskClient:
    """Given the image, a time bound per step and where warnings go; use as a context manager.

    ``open`` returns the partitions and how many file systems there are; ``walk`` lists one;
    ``read`` feeds a file's content to a sink. Failures of the worker become warnings.
    """

    def __init__(
        self, image: pathlib.Path, *, timeout: float, warn: Warn, holes_unread: bool = False
    ) -> None:
        self.image, self.timeout, self.warn = image, timeout, warn
        self.holes_unread = holes_unread  # a sparse image's holes given to TSK as zeros
        self._process: tsk_process.Child | None = None
        self._buffer = bytearray()
        self._partitions: list[int] = []  # partition index of each file system
        self._opened: dict = {}
        self._plan: collections.deque[tuple[int, FoundFile]] = collections.deque()
        self._sent: collections.deque[tuple[int, FoundFile]] = collections.deque()
        self._given_up: set[int] = set()  # no more reads
        self._unlisted: set[int] = set()  # no more listing (the files listed are still read)
        self._read_failures: dict[int, int] = {}
        self._killed: list[tsk_process.Child] = []  # killed, not yet reaped
        self._open_asked = False  # "open" sent to the worker, its answer not read yet
        self._walks_asked: collections.deque[tuple[int, bool]] = collections.deque()

    def __enter__(self) -> TskClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self, *, reap: bool = True) -> None:
        """End the worker: it only reads, so it is killed (it may be mid-answer). Unless
        ``reap``, it is not waited for here (a killed process takes milliseconds to go, time
        the scan spends on its carved files): the next ``close`` reaps it."""
        process, self._process = self._process, None
        self._forget_asked()
        if process is not None:
            tsk_process.kill(process, reap=False)
            process.stdout.close()
            with contextlib.suppress(OSError):
                process.stdin.close()
            self._killed.append(process)
        if reap:
            while self._killed:
                self._killed.pop().wait()

    def _start(self) -> None:
        self._process = tsk_process.Child(str(self.image))
        self._buffer.clear()
        self._open_asked = True  # a worker gone at once is found out reading the answer
        self._send({"op": "open", "holes_unread": self.holes_unread})

    def _forget_asked(self) -> None:
        self._open_asked = False
        self._walks_asked.clear()

    def _fail(self, reason: str) -> str:
        """Kill the worker (the reads asked for ahead go back to the plan); return what
        happened to it, for a warning."""
        self._plan.extendleft(reversed(self._sent))
        self._sent.clear()
        self._forget_asked()
        process, self._process = self._process, None
        if process is None:
            return reason
        tsk_process.kill(process)
        process.stdout.close()
        with contextlib.suppress(OSError):
            process.stdin.close()
        if process.returncode is not None and process.returncode < 0 and reason != "timeout":
            return f"crashed ({signal.Signals(-process.returncode).name})"
        if reason == "timeout":
            return f"did not answer within {self.timeout:.0f} s"
        return f"failed ({reason}, exit status {process.returncode})"

    def _send(self, request: dict) -> None:
        try:
            self._process.stdin.write(json.dumps(request).encode("ascii") + b"\n")
            self._process.stdin.flush()
        except OSError:
            raise WorkerFailed("gone") from None

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([self._process.stdout], [], [], max(remaining, 0))
        if not ready:
            raise WorkerFailed("timeout")
        data = os.read(self._process.stdout.fileno(), 1 << 20)
        if not data:
            self._process.wait()
            raise WorkerFailed("ended")
        self._buffer += data

    def _message(self, deadline: float) -> dict:
        """Return the next message that is not a warning (warnings go to ``warn``)."""
        while True:
            while (end := self._buffer.find(b"\n")) < 0:
                if len(self._buffer) > MAX_LINE:
                    raise WorkerFailed("line too long")
                self._fill(deadline)
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            try:
                message = json.loads(line)
            except ValueError:
                raise WorkerFailed("not JSON") from None
            if not isinstance(message, dict):
                raise WorkerFailed("not a JSON object")
            if "warning" not in message:
                return message
            self.warn(str(message["warning"]))

    def _bytes(self, count: int, deadline: float) -> bytes:
        while len(self._buffer) < count:
            self._fill(deadline)
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def _ready(self) -> dict:
        """Return the answer to ``open``, starting (or restarting) the worker when needed."""
        if self._process is None:
            self._start()
        if self._open_asked:
            opened = self._message(time.monotonic() + self.timeout)
            self._open_asked = False
            self._partitions = [int(index) for index in opened["systems"]]
            self._opened = opened
        return self._opened

    def ask(self, walks: Iterable[tuple[int, bool]], *, systems: Sequence[int] = ()) -> None:
        """Given listings (file system, orphans) that ``walk`` will be called for, in that
        order: start the worker when needed and ask for them now, so that it works on them
        while this process does something else. ``systems`` (the partition index of each file
        system, from another client's ``open``) names partitions in warnings until this
        worker has answered its own ``open``. A worker gone already is found out by ``walk``."""
        walks = list(walks)
        if not walks:
            return
        if self._process is None and systems:
            self._partitions = list(systems)
        try:
            if self._process is None:
                self._start()
            for system, orphans in walks:
                self._send({"op": "walk", "system": system, "orphans": orphans})
                self._walks_asked.append((system, orphans))
        except WorkerFailed:
            pass  # the next walk meets the same worker and gives the warning

    def partition_indexes(self) -> tuple[int, ...]:
        """Return the partition index of each file system, as the worker opened them."""
        return tuple(self._partitions)

    def open(self) -> tuple[tuple[Partition, ...], int]:
        """Return the image's partitions and how many file systems TSK found on them; when
        the worker fails, warn and return the whole image as one volume without any."""
        try:
            opened = self._ready()
            partitions = tuple(Partition(**values) for values in opened["partitions"])
        except (WorkerFailed, KeyError, TypeError, ValueError) as error:
            what = self._fail(str(error))
            self.warn(f"The Sleuth Kit {what} opening the image; no file system listed")
            return (Partition(0, 0, self.image.stat().st_size, "whole image", "none"),), 0
        return partitions, len(self._partitions)

    def volume(self, system: int) -> dict | None:
        """Return what TSK said about file system ``system`` when it was opened (block size
        and count, names in its root folder); None when the worker did not say."""
        volumes = self._opened.get("volumes")
        if not isinstance(volumes, list) or not 0 <= system < len(volumes):
            return None
        facts = volumes[system]
        return facts if isinstance(facts, dict) else None

    def walk(self, system: int, *, orphans: bool) -> list[FoundFile]:
        """Return the files of file system ``system`` (TSK's orphan files when ``orphans``);
        the files listed so far when the worker fails (with a warning)."""
        files: list[FoundFile] = []
        if system in self._unlisted:
            return files
        try:
            self._ready()
            asked = self._walks_asked.popleft() if self._walks_asked else None
            if asked is None:
                self._send({"op": "walk", "system": system, "orphans": orphans})
            elif asked != (system, orphans):
                raise WorkerFailed("listings taken in another order than asked")
            deadline = time.monotonic() + self.timeout
            while "done" not in (message := self._message(deadline)):
                files.append(_found(message["file"]))
        except (WorkerFailed, KeyError, TypeError, ValueError) as error:
            what = self._fail(str(error))
            self._unlisted.add(system)
            kind = "orphan files" if orphans else "files"
            self.warn(
                f"partition {self._partition(system)}: The Sleuth Kit {what} listing its {kind};"
                f" {len(files)} listed, the rest of this file system skipped"
            )
        return files

    def plan(self, reads: Iterable[tuple[int, FoundFile]]) -> None:
        """Given the files ``read`` will be asked for, in that order: the worker is asked for
        up to WINDOW of them ahead (a round trip per file costs more than a small file)."""
        self._plan = collections.deque(reads)

    def forget_reads(self) -> None:
        """Start the reads afresh: no plan, no file system given up (the caller reads the
        files again from the first); a worker with reads asked ahead is replaced."""
        if self._sent:
            self._fail("reads forgotten")
        self._plan.clear()
        self._given_up.clear()
        self._read_failures.clear()

    def _pump(self) -> None:
        while len(self._sent) < WINDOW and self._plan:
            system, found = self._plan.popleft()
            if system not in self._given_up:
                self._send(_read_request(system, found))
                self._sent.append((system, found))

    def _request(self, system: int, found: FoundFile) -> None:
        """Make the next answer the one for ``found``: drain the answers of files asked for
        ahead and then skipped, or ask now when it was not asked for."""
        key = (system, found.inode)
        if any((asked, item.inode) == key for asked, item in self._sent):
            while self._sent:
                asked, item = self._sent.popleft()
                if (asked, item.inode) == key:
                    return
                self._answer(lambda chunk: None)
        if self._plan and (self._plan[0][0], self._plan[0][1].inode) == key:
            self._plan.popleft()
        self._send(_read_request(system, found))

    def _answer(self, sink: Callable[[bytes], None]) -> None:
        """Feed the chunks of the next answer to ``sink``; raise OSError for TSK's error."""
        while "done" not in (message := self._message(time.monotonic() + self.timeout)):
            if "error" in message:
                raise OSError(str(message["error"]))
            length = int(message["chunk"])
            if not 0 < length <= MAX_CHUNK:
                raise WorkerFailed("bad chunk length")
            chunk = self._bytes(length, time.monotonic() + self.timeout)
            try:
                sink(chunk)
            except BaseException:  # the worker is mid-answer: a fresh one for the next
                self._fail("stopped")
                raise

    def read(self, system: int, found: FoundFile, sink: Callable[[bytes], None]) -> None:
        """Feed the content of ``found`` to ``sink``; raise OSError when TSK cannot read it,
        its worker failed on it, or its file system was given up."""
        if system in self._given_up:
            raise OSError("skipped: The Sleuth Kit failed on this file system")
        try:
            self._ready()
            self._request(system, found)
            self._pump()
            self._answer(sink)
        except (WorkerFailed, KeyError, TypeError, ValueError) as error:
            what = self._fail(str(error))
            failures = self._read_failures.get(system, 0) + 1
            self._read_failures[system] = failures
            if failures >= READ_FAILURES:
                self._given_up.add(system)
                self.warn(
                    f"partition {self._partition(system)}: The Sleuth Kit failed on {failures}"
                    " files; the rest of this file system skipped"
                )
            raise OSError(f"The Sleuth Kit {what}") from None

    def _partition(self, system: int) -> int | str:
        return self._partitions[system] if system < len(self._partitions) else "?"


def _read_request(system: int, found: FoundFile) -> dict:
    return {
        "op": "read",
        "system": system,
        "inode": found.inode,
        "size": found.size,
        "partition": found.partition,
    }
