"""The child process that runs The Sleuth Kit for a scan: libtsk's time and crashes stay here.

Forked by ``tsk_client`` (pytsk3 is loaded already: no start-up cost); it reads one JSON
request a line from its request pipe and answers on its answer pipe, each message one JSON
line:

* ``{"op": "open", "holes_unread": false}`` (true: a sparse image's holes are given to TSK as
  zeros, not read) → ``{"partitions": [...], "systems": [partition index, ...], "volumes":
  [{"block_size": B, "block_count": C, "root_names": N}, ...]}`` (per file system)
* ``{"op": "walk", "system": N, "orphans": false}`` → ``{"file": {...}}`` per file (``orphans``
  true: TSK's $OrphanFiles only), then ``{"done": true}``
* ``{"op": "read", "system": N, "inode": I, "size": S}`` → ``{"chunk": L}`` followed by L raw
  bytes, per chunk, then ``{"done": true}``, or ``{"error": "..."}``

Warnings go as ``{"warning": "..."}`` lines in between. The image and the TSK handles stay open
between requests (the files a walk met are read without a lookup by inode).

``BACKUPCTL_TEST_TSK_FAULT=crash:OP`` or ``hang:OP`` (OP: open, walk, orphans, read) makes the
worker abort or hang at that request, as a libtsk crash or loop would: set only by tests.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import BinaryIO

from recovery import filesystems
from recovery.scan_model import FoundFile

FAULT_VARIABLE = "BACKUPCTL_TEST_TSK_FAULT"


def found_to_dict(item: FoundFile) -> dict:
    """Given a found file, return it as JSON-ready values (runs as pairs)."""
    return {
        "partition": item.partition,
        "inode": item.inode,
        "path": item.path,
        "size": item.size,
        "allocated": item.allocated,
        "times": item.times,
        "runs": [[run.offset, run.length] for run in item.runs],
        "resident": item.resident,
    }


class _Worker:
    def __init__(self, image: str, output: BinaryIO) -> None:
        self.image, self.output = image, output
        self.systems: list[filesystems.OpenFileSystem] = []

    def send(self, message: dict) -> None:
        # ensure_ascii: names with undecodable bytes (lone surrogates) travel as escapes
        self.output.write(json.dumps(message).encode("ascii") + b"\n")

    def warn(self, message: str) -> None:
        self.send({"warning": message})

    def open(self, request: dict) -> None:
        holes_unread = bool(request.get("holes_unread"))
        _, partitions, self.systems = filesystems.open_image(
            self.image, self.warn, holes_unread=holes_unread
        )
        self.send(
            {
                "partitions": [partition.to_dict() for partition in partitions],
                "systems": [system.partition.index for system in self.systems],
                "volumes": [filesystems.volume_facts(system) for system in self.systems],
            }
        )

    def walk(self, request: dict) -> None:
        system = self.systems[request["system"]]
        if request.get("orphans"):
            files = filesystems.walk_orphans(system, self.warn)
        else:
            files = filesystems.walk(system, self.warn, orphans=False)
        for item in files:
            self.send({"file": found_to_dict(item)})
        self.send({"done": True})

    def read(self, request: dict) -> None:
        system = self.systems[request["system"]]
        found = FoundFile(request["partition"], request["inode"], "", request["size"], True, {}, ())

        def sink(chunk: bytes) -> None:
            self.send({"chunk": len(chunk)})
            self.output.write(chunk)

        try:
            filesystems.read_content(system, found, sink)
        except OSError as error:
            self.send({"error": str(error) or type(error).__name__})
            return
        self.send({"done": True})


def _fault(op: str) -> None:
    """The test switch: abort (as a libtsk crash) or hang (as a libtsk loop) at ``op``."""
    action, _, where = os.environ.get(FAULT_VARIABLE, "").partition(":")
    if where != op:
        return
    if action == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if action == "hang":
        threading.Event().wait()


def serve(image: str, requests: BinaryIO, output: BinaryIO) -> None:
    """Given the image path and the two pipes, serve requests until the request pipe closes."""
    worker = _Worker(image, output)
    handlers = {"open": worker.open, "walk": worker.walk, "read": worker.read}
    for line in requests:
        request = json.loads(line)
        _fault("orphans" if request.get("orphans") else request["op"])
        handlers[request["op"]](request)
        output.flush()
