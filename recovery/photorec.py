"""PhotoRec (Debian ``testdisk``): the argv builder, its DFXML report parser, and the one runner.

PhotoRec carves files by their signatures, in batch mode (``/cmd``), into ``DIR.1``, ``DIR.2``
… and writes ``DIR.1/report.xml``, a DFXML carve report: each ``fileobject`` names a carved
file, its size and its byte runs on the image. The report is read back so every carved file is
tied to where it lay. Its exit codes: 0 ok, anything else a failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from typing import BinaryIO

from recovery import errors
from recovery.scan_model import ByteRun

logger = logging.getLogger(__name__)

DEFAULT_BINARY = "/usr/bin/photorec"
MAX_REPORT_BYTES = 256 << 20
VERSION_TIMEOUT = 30.0
# Paranoid checks; no corrupted files; every file type PhotoRec knows; every sector of the input.
BATCH_OPTIONS = (
    "partition_none",
    "options",
    "paranoid",
    "keep_corrupted_file_no",
    "fileopt",
    "everything",
    "enable",
    "wholespace",
    "search",
)


class PhotorecError(errors.RecoveryError):
    exit_code = 3


class ReportError(errors.RecoveryError):
    """The carve report is not DFXML, or damaged."""

    exit_code = 3


@dataclasses.dataclass(frozen=True)
class CarvedObject:
    """One file PhotoRec carved: its name in the output, its size and its runs on the image."""

    filename: str
    size: int
    runs: tuple[ByteRun, ...]


def carve_argv(image: str, output_prefix: str, *, binary: str = DEFAULT_BINARY) -> tuple[str, ...]:
    """Given an image and an output prefix (PhotoRec adds .1, .2 …), return the batch argv."""
    return (binary, "/log", "/d", output_prefix, "/cmd", image, ",".join(BATCH_OPTIONS))


def parse_version(text: str) -> str:
    """Given ``photorec /version`` output, return "7.1"; raise PhotorecError otherwise."""
    match = re.search(r"PhotoRec (\d+\.\d+(?:\.\d+)?)", text)
    if not match:
        raise PhotorecError("cannot read the PhotoRec version (is testdisk installed?)")
    return match.group(1)


def _int(element: ElementTree.Element, name: str) -> int:
    text = element.get(name)
    if text is None or not text.isdigit():
        raise ReportError(f"carve report: byte_run without a valid {name!r}")
    return int(text)


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child_text(element: ElementTree.Element, name: str) -> str:
    found = next((child for child in element if _local(child.tag) == name), None)
    return (found.text or "").strip() if found is not None else ""


def _carved(element: ElementTree.Element) -> CarvedObject:
    filename = _child_text(element, "filename")
    size_text = _child_text(element, "filesize")
    if not filename or not size_text.isdigit():
        raise ReportError("carve report: a fileobject without a filename or filesize")
    runs = []
    for run in (item for item in element.iter() if _local(item.tag) == "byte_run"):
        offset, image_offset, length = (
            _int(run, "offset"),
            _int(run, "img_offset"),
            _int(run, "len"),
        )
        runs.append((offset, ByteRun(image_offset, length)))
    runs.sort()
    return CarvedObject(filename, int(size_text), tuple(run for _, run in runs))


def parse_report(stream: BinaryIO) -> tuple[CarvedObject, ...]:
    """Given a DFXML carve report as a binary stream, return its carved files.

    Raise ReportError when it is not DFXML (or larger than MAX_REPORT_BYTES) or a file object
    in it is damaged.
    """
    content = stream.read(MAX_REPORT_BYTES + 1)
    if len(content) > MAX_REPORT_BYTES:
        raise ReportError(f"carve report larger than {MAX_REPORT_BYTES} bytes")
    try:
        root = ElementTree.fromstring(content)
    except (ElementTree.ParseError, LookupError, ValueError) as error:  # LookupError: encoding
        raise ReportError(f"carve report is not XML: {error}") from None
    if _local(root.tag) != "dfxml":
        raise ReportError(f"carve report: expected a dfxml document, found {root.tag!r}")
    return tuple(_carved(item) for item in root.iter() if _local(item.tag) == "fileobject")


class VersionQuery:
    """``photorec /version`` started now and read later (a process start the scan need not
    wait for); raise PhotorecError at once when PhotoRec is missing."""

    def __init__(self, binary: str = DEFAULT_BINARY) -> None:
        self.binary = binary
        try:
            self._process = subprocess.Popen(
                (binary, "/version"),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as error:
            raise PhotorecError(
                f"cannot run {binary}: {error.strerror} (install testdisk)"
            ) from None

    def result(self) -> str:
        """Return PhotoRec's version; raise PhotorecError when it cannot be read."""
        stdout, stderr, expired = _communicate(self._process, VERSION_TIMEOUT)
        if expired:
            raise PhotorecError(
                f"{self.binary} /version did not answer within {VERSION_TIMEOUT:g} s"
            )
        return parse_version((stdout + stderr).decode("utf-8", "replace"))


def version(binary: str = DEFAULT_BINARY) -> str:
    """Return PhotoRec's version; raise PhotorecError when it is missing."""
    return VersionQuery(binary).result()


def _communicate(process: subprocess.Popen, timeout: float) -> tuple[bytes, bytes, bool]:
    """Return the process's output and whether it was killed (its group) after ``timeout``.

    A timer, not communicate(timeout=...): Python waits for a child with a time bound by
    polling with sleeps of up to 50 ms, which a short run pays after the child has ended (a
    20 ms carve took 66 ms)."""
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill_group(process)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        stop(process)
        raise
    finally:
        timer.cancel()
    return stdout or b"", stderr or b"", expired.is_set()


def run(
    argv: Sequence[str],
    *,
    cwd: str,
    timeout: float,
    on_start: Callable[[subprocess.Popen], None] | None = None,
) -> None:
    """Run PhotoRec in ``cwd`` (its log goes there), in its own session, with no terminal.

    It gets SIGTERM when backupctl dies (util-linux setpriv) and is killed after ``timeout``
    seconds; ``on_start`` receives the process (to stop it from another thread). Raise
    PhotorecError on a failure or a timeout.
    """
    setpriv = shutil.which("setpriv")
    full = (setpriv, "--pdeathsig", "TERM", *argv) if setpriv else tuple(argv)
    logger.info("running %s", " ".join(argv))
    process = subprocess.Popen(
        full,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        umask=0o077,  # carved files are customer data: root-only
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "dumb", "LANG": "C"},
    )
    if on_start is not None:
        on_start(process)
    _, stderr, expired = _communicate(process, timeout)
    if expired:
        raise PhotorecError(f"photorec did not finish within {timeout:g} s; stopped")
    if process.returncode != 0:
        detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise PhotorecError(f"photorec failed with exit status {process.returncode}: {detail[0]}")


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def stop(process: subprocess.Popen) -> None:
    """Kill PhotoRec's process group (it keeps nothing worth saving) and reap it."""
    _kill_group(process)
    process.wait()
