"""What a scan recovered, read back for the report: ``DIR/manifest.json`` checked against custody.

The scan records ``manifest_sha256`` in its custody event (``recovery/scan_record.py``); the
manifest is read only when it still hashes to that value, so a report never shows a file list
that was edited after the scan. The manifest is outside input all the same (names come from the
customer's image): it is read bounded in size, never through a symlink, and every entry is
checked; a malformed entry is counted and left out, not fatal.

Manifest shape accepted: a JSON object with ``files`` (a list) and optionally ``volumes`` (or
``partitions``, ``file_systems``, or ``scan.partitions``: what the scan found), or a bare list
of files. Each file:
``path``, ``size``, ``sha256``, ``origin`` (allocated, deleted, carved), ``damaged_bytes``,
optionally ``original_path``, ``type`` and times (a ``times`` object, or ``mtime``, ``atime``,
``ctime``, ``crtime``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import re
import stat

from recovery import scan_record
from recovery.custody import CustodyEvent
from recovery.scan_record import MANIFEST_NAME

MAX_MANIFEST_BYTES = 256 * 1024 * 1024
ORIGINS = ("allocated", "deleted", "carved")
TIME_KEYS = ("mtime", "atime", "ctime", "crtime")
_SHA256 = re.compile(r"[0-9a-f]{64}")

CATEGORIES = {
    "picture": "jpg jpeg png gif bmp tif tiff heic webp raw cr2 nef dng arw orf svg ico psd",
    "document": "pdf doc docx odt rtf txt md xls xlsx ods csv ppt pptx odp xml html htm eml msg",
    "audio": "mp3 wav flac ogg oga m4a aac wma opus mid",
    "video": "mp4 mov avi mkv wmv mpg mpeg 3gp m4v webm mts",
    "archive": "zip rar 7z gz tgz tar bz2 xz zst cab iso",
    "program": "exe dll so msi apk deb rpm sh bat",
}
_CATEGORY_OF = {ext: name for name, exts in CATEGORIES.items() for ext in exts.split()}


@dataclasses.dataclass(frozen=True)
class RecoveredFile:
    path: str
    size: int
    sha256: str
    origin: str
    damaged_bytes: int
    original_path: str | None = None
    kind: str = "other"
    times: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class ScanResults:
    """The latest scan of a job: ``state`` is none, missing, changed, unreadable or ok."""

    state: str
    message: str
    to: str | None = None
    files: tuple[RecoveredFile, ...] = ()
    volumes: tuple[dict, ...] = ()
    skipped: int = 0

    @property
    def damaged(self) -> tuple[RecoveredFile, ...]:
        return tuple(item for item in self.files if item.damaged_bytes > 0)


def kind_of(path: str, declared: object = None) -> str:
    """Given a recovered file's path (and the type the scan declared), return its category."""
    if isinstance(declared, str) and declared.strip():
        declared = declared.strip().lower()
        return _CATEGORY_OF.get(declared, declared[:32])
    suffix = pathlib.PurePosixPath(path).suffix.lower().lstrip(".")
    return _CATEGORY_OF.get(suffix, "other")


def load(event: CustodyEvent | None) -> ScanResults:
    """Given the job's latest scan event (or None), return what its manifest lists."""
    if event is None:
        return ScanResults("none", "no scan yet: recovered files are listed after media scan")
    to = str(scan_record.output_dir(event))
    expected = event.details.get("manifest_sha256")
    try:
        data = _read_bounded(pathlib.Path(to) / MANIFEST_NAME)
    except FileNotFoundError:
        return ScanResults("missing", f"the scan manifest in {to} is gone (deleted?)", to)
    except OSError as error:
        return ScanResults("unreadable", f"the scan manifest in {to}: {error.strerror}", to)
    if hashlib.sha256(data).hexdigest() != expected:
        text = f"scan manifest changed: {to}/{MANIFEST_NAME} does not match the scan's record"
        return ScanResults("changed", text, to)
    try:
        files, volumes, skipped = parse(data)
    except ValueError as error:
        return ScanResults("unreadable", f"the scan manifest in {to} is malformed: {error}", to)
    message = f"{len(files)} file(s) recovered to {to}"
    return ScanResults("ok", message, to, files, volumes, skipped)


def _read_bounded(path: pathlib.Path) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise OSError(0, "not a regular file")
        data = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise OSError(0, f"larger than {MAX_MANIFEST_BYTES} bytes")
    return data


def parse(data: bytes) -> tuple[tuple[RecoveredFile, ...], tuple[dict, ...], int]:
    """Given manifest bytes, return (files, volumes, number of malformed entries left out);
    raise ValueError when it is not JSON or not a manifest at all."""
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError(f"not JSON ({error})") from None
    if isinstance(document, list):
        document = {"files": document}
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        raise ValueError("no list of files")
    files = [_file(entry) for entry in document["files"]]
    kept = tuple(item for item in files if item is not None)
    summary = document.get("scan") if isinstance(document.get("scan"), dict) else {}
    volumes = (
        document.get("volumes")
        or document.get("partitions")
        or document.get("file_systems")
        or summary.get("partitions")
    )
    volumes = volumes if isinstance(volumes, list) else []
    volumes = tuple(item for item in volumes if isinstance(item, dict))[:256]
    return kept, volumes, len(files) - len(kept)


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _file(entry: object) -> RecoveredFile | None:
    if not isinstance(entry, dict):
        return None
    path, sha256, origin = entry.get("path"), entry.get("sha256"), entry.get("origin")
    size, damaged = _count(entry.get("size")), _count(entry.get("damaged_bytes", 0))
    if not isinstance(path, str) or not path or size is None or damaged is None:
        return None
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256) or origin not in ORIGINS:
        return None
    original = entry.get("original_path")
    return RecoveredFile(
        path=path,
        size=size,
        sha256=sha256,
        origin=origin,
        damaged_bytes=damaged,
        original_path=original if isinstance(original, str) else None,
        kind=kind_of(path, entry.get("type")),
        times=_times(entry),
    )


def _times(entry: dict) -> tuple[tuple[str, str], ...]:
    source = entry.get("times") if isinstance(entry.get("times"), dict) else entry
    return tuple(
        (key, str(source[key])[:40])
        for key in TIME_KEYS
        if isinstance(source.get(key), str | int | float) and not isinstance(source[key], bool)
    )


def by_kind(files: tuple[RecoveredFile, ...]) -> list[tuple[str, dict[str, int], int, int]]:
    """Given recovered files, return per category: (category, count per origin, damaged count,
    bytes), categories by descending count."""
    table: dict[str, tuple[dict[str, int], list[int]]] = {}
    for item in files:
        counts, extra = table.setdefault(item.kind, (dict.fromkeys(ORIGINS, 0), [0, 0]))
        counts[item.origin] += 1
        extra[0] += item.damaged_bytes > 0
        extra[1] += item.size
    rows = [(kind, counts, extra[0], extra[1]) for kind, (counts, extra) in table.items()]
    return sorted(rows, key=lambda row: (-sum(row[1].values()), row[0]))
