"""Partitions and file systems on an image, read through The Sleuth Kit (pytsk3).

``open_image`` finds the partition table (MBR, GPT, or none), opens every file system TSK reads
and ``walk`` lists each regular file with its path, size, times, whether it is allocated or
deleted, and its byte runs on the image. An image is untrusted: a damaged table, file system or
directory gives a warning and the walk goes on; loops and depth are bounded.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import logging
import os
from collections.abc import Callable, Iterator

import pytsk3

from recovery import work_copy
from recovery.scan_model import ByteRun, FoundFile, Partition

logger = logging.getLogger(__name__)

MAX_DEPTH = 64
MAX_ENTRIES = 5_000_000
READ_CHUNK = 1 << 20
MAX_KEPT_FILES = 200_000
VOLUME_TABLES = {
    pytsk3.TSK_VS_TYPE_DOS: "mbr",
    pytsk3.TSK_VS_TYPE_GPT: "gpt",
    pytsk3.TSK_VS_TYPE_BSD: "bsd",
    pytsk3.TSK_VS_TYPE_SUN: "sun",
    pytsk3.TSK_VS_TYPE_MAC: "mac",
}
# The attribute types that hold a file's content, per file system family.
DATA_TYPES = (
    pytsk3.TSK_FS_ATTR_TYPE_DEFAULT,
    pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA,
    pytsk3.TSK_FS_ATTR_TYPE_HFS_DATA,
)
RUN_SKIP = pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE | pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER
TIME_FIELDS = ("mtime", "atime", "ctime", "crtime")
FAT_LABEL_SUFFIX = "(Volume Label Entry)"
FAT_NAMES = ("fat12", "fat16", "fat32")

Warn = Callable[[str], None]


def versions() -> dict:
    """Return the versions of The Sleuth Kit and of its Python binding."""
    return {"sleuthkit": pytsk3.TSK_VERSION_STR, "pytsk3": pytsk3.get_version()}


@dataclasses.dataclass
class OpenFileSystem:
    """A file system TSK opened, at its partition (not a value: it holds TSK handles)."""

    partition: Partition
    handle: pytsk3.FS_Info
    block_size: int
    # The TSK files the walk met, by inode: reopening by inode can cost TSK a second each on a
    # damaged ext4 (seen in the fuzz run). Bounded; past it, files are reopened by inode.
    files: dict = dataclasses.field(default_factory=dict)


FS_NAMES = {
    int(getattr(pytsk3, name)): name.removeprefix("TSK_FS_TYPE_").lower()
    for name in dir(pytsk3)
    if name.startswith("TSK_FS_TYPE_") and not name.endswith(("_DETECT", "_ENUM"))
}


def _fs_name(handle: pytsk3.FS_Info) -> str:
    return FS_NAMES.get(int(handle.info.ftype), f"type {int(handle.info.ftype)}")


def _try_filesystem(image: pytsk3.Img_Info, offset: int, warn: Warn) -> pytsk3.FS_Info | None:
    try:
        return pytsk3.FS_Info(image, offset=offset)
    except (OSError, RuntimeError) as error:
        logger.debug("no file system at offset %d: %s", offset, error)
        return None


def _partitions(image: pytsk3.Img_Info, size: int, warn: Warn) -> list[Partition]:
    try:
        volume = pytsk3.Volume_Info(image)
    except (OSError, RuntimeError):
        return [Partition(0, 0, size, "whole image", "none")]
    table = VOLUME_TABLES.get(volume.info.vstype, str(volume.info.vstype))
    sector = volume.info.block_size or 512
    found = []
    for part in volume:
        if not part.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC:
            continue
        offset, length = part.start * sector, part.len * sector
        if offset >= size:
            warn(f"partition {part.addr} starts past the end of the image; skipped")
            continue
        description = part.desc.decode("utf-8", "replace") if part.desc else ""
        found.append(Partition(part.addr, offset, min(length, size - offset), description, table))
    return found or [Partition(0, 0, size, "whole image", table)]


class _HolesUnread(pytsk3.Img_Info):
    """A sparse image whose holes TSK gets as zeros without reading them (the same bytes:
    TSK's orphan search on a FAT volume reads its whole free space, mostly holes)."""

    def __init__(self, path: str, descriptor: int, size: int, data: tuple) -> None:
        self._descriptor, self._size = descriptor, size
        self._starts, self._ends = [run.offset for run in data], [run.end for run in data]
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, length: int) -> bytes:
        first = max(bisect.bisect_right(self._starts, offset) - 1, 0)
        last = bisect.bisect_left(self._starts, offset + length)
        if any(self._ends[index] > offset for index in range(first, last)):
            return os.pread(self._descriptor, length, offset)
        return bytes(max(min(length, self._size - offset), 0))

    def get_size(self) -> int:
        return self._size


def _image(path: str, *, holes_unread: bool) -> pytsk3.Img_Info:
    """TSK's image of ``path``; with ``holes_unread``, one that does not read the holes of an
    image at least half holes (SEEK_DATA)."""
    if holes_unread:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        size = os.fstat(descriptor).st_size
        data = work_copy.data_blocks(descriptor, size)
        if data is not None and sum(run.length for run in data) * 2 <= size:
            return _HolesUnread(path, descriptor, size, data)
        os.close(descriptor)
    return pytsk3.Img_Info(path)


def open_image(
    path: str, warn: Warn, *, holes_unread: bool = False
) -> tuple[pytsk3.Img_Info, tuple[Partition, ...], list[OpenFileSystem]]:
    """Given an image path, return TSK's image, its partitions and the file systems found
    (``holes_unread``: a sparse image's holes are given as zeros, not read).

    A partition table naming partitions with no file system TSK reads (or none at all) leaves
    them out of the file systems; the caller carves them.
    """
    image = _image(path, holes_unread=holes_unread)
    size = image.get_size()
    partitions, systems = [], []
    for partition in _partitions(image, size, warn):
        handle = _try_filesystem(image, partition.offset, warn)
        if handle is None and partition.table == "none":
            partitions.append(partition)
            continue
        if handle is None:
            partitions.append(partition)
            continue
        found = dataclasses.replace(partition, filesystem=_fs_name(handle))
        partitions.append(found)
        systems.append(OpenFileSystem(found, handle, handle.info.block_size))
    return image, tuple(partitions), systems


def volume_facts(system: OpenFileSystem) -> dict:
    """Given an open file system, return its block size and count, and how many names TSK
    lists in its root folder (its own automatic ones included; FAT only, -1 otherwise or
    when it cannot)."""
    root_names = -1
    if system.partition.filesystem in FAT_NAMES:
        try:
            root_names = int(system.handle.open_dir(path="/").size)
        except (OSError, RuntimeError):
            root_names = -1
    info = system.handle.info
    return {
        "block_size": int(info.block_size),
        "block_count": int(info.block_count),
        "root_names": root_names,
    }


def _times(meta) -> dict:
    times = {}
    for field in TIME_FIELDS:
        value = getattr(meta, field, 0) or 0
        if 0 < value < 253402300800:  # before year 10000
            moment = datetime.datetime.fromtimestamp(value, datetime.UTC)
            times[field] = moment.isoformat(timespec="seconds")
    return times


def data_attribute(file_object: pytsk3.File) -> pytsk3.Attribute | None:
    """Given a TSK file, return its unnamed content attribute, None when it has none."""
    for attribute in file_object:
        info = attribute.info
        if info.type in DATA_TYPES and info.name in (None, b"", b"$Data"):
            return attribute
    return None


def _runs(attribute, system: OpenFileSystem, size: int) -> tuple[tuple[ByteRun, ...], bool]:
    """Return the attribute's runs on the image (cut to the file size) and whether it is
    resident."""
    if attribute is None:
        return (), False
    if attribute.info.flags & pytsk3.TSK_FS_ATTR_RES:
        return (), True
    runs, remaining = [], size
    base, block = system.partition.offset, system.block_size
    for run in attribute:
        if remaining <= 0:
            break
        length = min(run.len * block, remaining)
        remaining -= length
        if run.flags & RUN_SKIP:
            continue
        runs.append(ByteRun(base + run.addr * block, length))
    return tuple(runs), False


def _decode(name: bytes) -> str:
    return name.decode("utf-8", "surrogateescape")


def _entry_file(entry, system: OpenFileSystem, path: str) -> FoundFile | None:
    meta = entry.info.meta
    if meta is None or meta.type != pytsk3.TSK_FS_META_TYPE_REG:
        return None
    if entry.info.name.type not in (pytsk3.TSK_FS_NAME_TYPE_REG, pytsk3.TSK_FS_NAME_TYPE_UNDEF):
        return None  # a deleted NTFS index entry has no name type of its own (UNDEF)
    if path.endswith(FAT_LABEL_SUFFIX) and "fat" in system.partition.filesystem:
        return None  # TSK lists a FAT volume label as an empty regular file
    unallocated = bool(entry.info.name.flags & pytsk3.TSK_FS_NAME_FLAG_UNALLOC) or bool(
        meta.flags & pytsk3.TSK_FS_META_FLAG_UNALLOC
    )
    size = max(int(meta.size), 0)
    runs, resident = _runs(data_attribute(entry), system, size)
    return FoundFile(
        partition=system.partition.index,
        inode=int(meta.addr),
        path=path,
        size=size,
        allocated=not unallocated,
        times=_times(meta),
        runs=runs,
        resident=resident,
    )


def _subdirectory(entry, system: OpenFileSystem, warn: Warn, path: str):
    try:
        return entry.as_directory()
    except (OSError, RuntimeError) as error:
        warn(f"partition {system.partition.index}: cannot open directory {path!r}: {error}")
        return None


def _by_address(system: OpenFileSystem, entry):
    """A deleted name whose metadata TSK did not attach (NTFS): the unallocated entry it names,
    None when there is none or it now belongs to an allocated file."""
    address = entry.info.name.meta_addr
    if not address:
        return None
    try:
        found = system.handle.open_meta(inode=address)
    except (OSError, RuntimeError):
        return None
    meta = found.info.meta
    if meta is None or not meta.flags & pytsk3.TSK_FS_META_FLAG_UNALLOC:
        return None
    return _Named(found, entry.info.name)


class _Named:
    """A file opened by address, with the name of the directory entry that pointed to it."""

    def __init__(self, found, name) -> None:
        self._found = found
        self.info = type("Info", (), {"meta": found.info.meta, "name": name})()

    def __iter__(self) -> Iterator:
        return iter(self._found)

    def as_directory(self):
        return self._found.as_directory()

    def read_random(self, *arguments: int) -> bytes:
        return self._found.read_random(*arguments)


ORPHANS = "$OrphanFiles"


def walk(system: OpenFileSystem, warn: Warn, *, orphans: bool = True) -> Iterator[FoundFile]:
    """Given an open file system, yield every regular file, allocated or deleted, depth first:
    the root folder's files first.

    Virtual files TSK adds ($MBR, $FAT1) are left out; its $OrphanFiles folder (deleted files
    whose name is gone) is walked unless ``orphans`` is false (``walk_orphans`` does it: on
    FAT, TSK reads the whole volume to fill it). A directory seen twice (a loop) is walked once.
    """
    try:
        root = system.handle.open_dir(path="/")
    except (OSError, RuntimeError) as error:
        warn(f"partition {system.partition.index}: cannot open the root directory: {error}")
        return
    skip = () if orphans else (f"/{ORPHANS}",)
    yield from _walk(system, warn, [(root, "", 0)], skip)


def walk_orphans(system: OpenFileSystem, warn: Warn) -> Iterator[FoundFile]:
    """Given an open file system, yield the files of TSK's $OrphanFiles folder only."""
    try:
        orphans = system.handle.open_dir(path=f"/{ORPHANS}")
    except (OSError, RuntimeError) as error:
        logger.debug("partition %d: no orphan files: %s", system.partition.index, error)
        return
    yield from _walk(system, warn, [(orphans, f"/{ORPHANS}", 1)], ())


def _walk(system: OpenFileSystem, warn: Warn, stack: list, skip: tuple[str, ...]):
    seen_dirs: set[int] = set()
    entries = 0
    while stack:
        directory, prefix, depth = stack.pop()
        try:
            listing = list(directory)
        except (OSError, RuntimeError) as error:
            warn(
                f"partition {system.partition.index}: damaged directory {prefix or '/'!r}: {error}"
            )
            continue
        for entry in listing:
            entries += 1
            if entries > MAX_ENTRIES:
                warn(
                    f"partition {system.partition.index}: more than {MAX_ENTRIES} entries; stopped"
                )
                return
            name = _decode(entry.info.name.name or b"")
            if name in ("", ".", "..") or f"{prefix}/{name}" in skip:
                continue
            entry = entry if entry.info.meta is not None else _by_address(system, entry)
            if entry is None:
                continue
            path = f"{prefix}/{name}"
            meta = entry.info.meta
            if meta.type in (pytsk3.TSK_FS_META_TYPE_DIR, pytsk3.TSK_FS_META_TYPE_VIRT_DIR):
                if meta.addr in seen_dirs or depth >= MAX_DEPTH:
                    continue
                seen_dirs.add(meta.addr)
                subdirectory = _subdirectory(entry, system, warn, path)
                if subdirectory is not None:
                    stack.append((subdirectory, path, depth + 1))
                continue
            found = _entry_file(entry, system, path)
            if found is not None:
                if len(system.files) < MAX_KEPT_FILES:
                    system.files.setdefault(found.inode, entry)
                yield found


def read_content(system: OpenFileSystem, found: FoundFile, sink: Callable[[bytes], None]) -> None:
    """Given a file found by ``walk``, feed its content to ``sink`` in chunks.

    Raise OSError when TSK cannot read it (a damaged run list, a run past the image).
    """
    file_object = system.files.get(found.inode)
    if file_object is None:
        try:
            file_object = system.handle.open_meta(inode=found.inode)
        except RuntimeError as error:
            raise OSError(str(error)) from None
    attribute = data_attribute(file_object)
    if attribute is None:
        if found.size:
            raise OSError("no content attribute")
        return
    kind, ident = attribute.info.type, attribute.info.id
    offset = 0
    while offset < found.size:
        length = min(READ_CHUNK, found.size - offset)
        try:
            chunk = file_object.read_random(offset, length, kind, ident)
        except RuntimeError as error:
            raise OSError(str(error)) from None
        if not chunk:
            raise OSError(f"short read at {offset} of {found.size} bytes")
        sink(chunk)
        offset += len(chunk)
