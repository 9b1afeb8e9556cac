"""Whether The Sleuth Kit's orphan search on a FAT12/16/32 volume can find anything at all.

To fill ``$OrphanFiles`` on FAT, TSK reads every unallocated cluster of the volume (and the
sectors past the last cluster) looking for directory entries (``fatfs_inode_walk``): a sector
is looked into only when its first 32-byte entry passes TSK's directory-entry test, and an
orphan comes only from a short (8.3) entry in such a sector that passes the test too (long-name
parts are skipped). On a large, mostly empty volume that is a read of the whole free space,
for nothing. Here the same free space is looked at first, cheaply: the boot sector and the
first FAT give the free clusters, holes of a sparse image are never read, zero stretches are
compared away, and each remaining sector is tried with a *looser* form of TSK's test (only
conditions every entry TSK accepts meets). No sector passes: the search would find nothing
and can be skipped. Anything odd (no boot-sector signature, a geometry TSK would reject or
read otherwise, a FAT past the end of the image) answers "search".

Pure functions over bytes plus one reader; the image is untrusted and every read is bounded.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import re
import struct
from collections.abc import Iterator
from typing import BinaryIO

from recovery import fat_layout, work_copy
from recovery.scan_model import ByteRun, Partition

logger = logging.getLogger(__name__)

# where TSK's orphan search reads the volume's whole free space (fatfs_inode_walk)
FREE_SPACE_SEARCH = frozenset((*fat_layout.FAT_KINDS, "exfat"))
READ_CHUNK = 1 << 20
MAX_FAT_BYTES = 64 << 20  # 16 million FAT32 clusters: a 1 TiB volume with 64 KiB clusters
ENTRY = 32
# directory-entry attribute bits
READ_ONLY, VOLUME, DIRECTORY, ARCHIVE, LONG_NAME = 0x01, 0x08, 0x10, 0x20, 0x0F
ALL_ATTRIBUTES = 0x3F
LOWER_CASE_ALL = 0x18
# bytes TSK refuses in an 8.3 name (FATXXFS_IS_83_NAME); 0x05 and "." are allowed in name[0]
_NOT_83 = frozenset(
    (*range(0x20), 0x22, 0x2A, 0x2B, 0x2C, 0x2E, 0x2F, *range(0x3A, 0x40), 0x5B, 0x5C, 0x5D, 0x7C)
)
# 1 where an attribute byte, or a case byte, allows a short entry
_SHORT_ATTRIBUTES = bytes(
    value & LONG_NAME != LONG_NAME and not value & ~ALL_ATTRIBUTES for value in range(256)
)
_SHORT_CASE = bytes(not value & ~LOWER_CASE_ALL for value in range(256))
_NOT_ZERO = re.compile(rb"[^\x00]")
# 1 where a byte may stand at that place of an 8.3 name (looser than is_83_name: each alone)
_NAME_BYTES = (
    bytes(value in (0x05, 0x2E) or value not in _NOT_83 | {0x20} for value in range(256)),
    bytes(value == 0x2E or value not in _NOT_83 for value in range(256)),
    *[bytes(value not in _NOT_83 for value in range(256))] * 9,
)
# ctime, cdate, adate, high cluster, wtime, wdate, low cluster, size
_FIELDS = struct.Struct("<HHHHHHHI")
AUTOMATIC_NAMES = 4  # TSK's subtype test: at most $MBR, $FAT1, $FAT2, $OrphanFiles in the root


def _is_time(value: int) -> bool:
    return ((value >> 5) & 0x3F) <= 59 and (value >> 11) <= 23


def _is_date(value: int) -> bool:
    return value & 0x1F >= 1 and 1 <= (value >> 5) & 0x0F <= 12


def is_83_name(entry: bytes, *, ascii_extension: bool = False) -> bool:
    """Given a short entry, return whether TSK takes its 11 name bytes for an 8.3 name
    (``is_83_name``); ``ascii_extension`` also refuses extension bytes above 126 (stricter)."""
    name = entry[:11]
    if name[0] == 0x20 or (name[0] not in (0x05, 0x2E) and name[0] in _NOT_83):
        return False
    if name[1] == 0x2E:
        if name[0] != 0x2E:
            return False
    elif name[1] in _NOT_83:
        return False
    if any(byte in _NOT_83 for byte in name[2:]):
        return False
    if ascii_extension and any(byte > 0x7E for byte in name[8:]):
        return False
    if entry[11] & VOLUME != VOLUME:
        pairs = ((1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (9, 10))
        return not any(name[a] == 0x20 and name[b] != 0x20 for a, b in pairs)
    return True


def could_be_short_entry(entry: bytes, data_bytes: int, *, names: bool) -> bool:
    """Given 32 bytes from an unallocated sector, return False when TSK's directory-entry test
    rejects them as a short (8.3) entry for certain; True otherwise (looser than TSK: no
    cluster bound, and the 8.3 name is checked only when ``names``: TSK drops that check on
    the odd Android volumes whose entries have no short name)."""
    attributes, case = entry[11], entry[12]
    if (
        attributes & LONG_NAME == LONG_NAME
        or case & ~LOWER_CASE_ALL
        or attributes & ~ALL_ATTRIBUTES
    ):
        return False
    if names and not is_83_name(entry):
        return False
    if attributes & VOLUME and attributes & (DIRECTORY | READ_ONLY | ARCHIVE):
        return False
    if entry[13] > 200:  # tenths of a second of the creation time
        return False
    ctime, cdate, adate, high, wtime, wdate, low, size = _FIELDS.unpack_from(entry, 14)
    if any(value and not _is_time(value) for value in (ctime, wtime)):
        return False
    if any(value and not _is_date(value) for value in (cdate, adate, wdate)):
        return False
    if size > data_bytes:
        return False
    return bool(ctime or cdate or adate or high or wtime or wdate or low or size)


def _could_be_long_name(entry: bytes) -> bool:
    sequence = entry[0]
    return entry[11] & LONG_NAME == LONG_NAME and (sequence <= 0x4F or sequence == 0xE5)


def sector_may_hold_orphans(sector: bytes, data_bytes: int, *, names: bool) -> bool:
    """Given an unallocated sector, return whether TSK's orphan search could find an orphan
    in it: its first entry passes the (looser) test, and one of its entries could be a short
    entry."""
    first = sector[:ENTRY]
    if could_be_short_entry(first, data_bytes, names=names):
        return True
    if not _could_be_long_name(first):
        return False
    return any(
        could_be_short_entry(sector[start : start + ENTRY], data_bytes, names=names)
        for start in range(ENTRY, len(sector) - ENTRY + 1, ENTRY)
    )


def data_may_hold_orphans(data: bytes, sector_size: int, data_bytes: int, *, names: bool) -> bool:
    """Given sector-aligned bytes of unallocated space, return whether a sector of it could
    give TSK an orphan (``sector_may_hold_orphans`` of any of its sectors). Only the entries
    whose attribute and case bytes allow a short entry, and whose times, cluster and size are
    not all zero, are looked at one by one: those bytes of every entry are tried at once (a
    byte table each, and the OR of the others, then an AND as integers, a byte an entry)."""
    entries = len(data) // ENTRY
    attributes = data[11::ENTRY][:entries].translate(_SHORT_ATTRIBUTES)
    cases = data[12::ENTRY][:entries].translate(_SHORT_CASE)
    fields = 0  # TSK refuses a short entry whose times, cluster and size are all zero
    for index in range(14, ENTRY):
        fields |= int.from_bytes(data[index::ENTRY][:entries], "little")
    both = int.from_bytes(attributes, "little") & int.from_bytes(cases, "little") & fields
    if names:  # each name byte one TSK allows there
        for index, table in enumerate(_NAME_BYTES):
            column = data[index::ENTRY][:entries].translate(table)
            both &= int.from_bytes(column, "little")
    per_sector = sector_size // ENTRY
    for match in _NOT_ZERO.finditer(both.to_bytes(entries, "little")):
        start = match.start() * ENTRY
        if not could_be_short_entry(data[start : start + ENTRY], data_bytes, names=names):
            continue
        sector = match.start() // per_sector * sector_size
        first = data[sector : sector + ENTRY]
        if sector == start or _could_be_long_name(first):
            return True
        if could_be_short_entry(first, data_bytes, names=names):
            return True
    return False


def _data_parts(
    stream: BinaryIO, runs: tuple[ByteRun, ...], found: fat_layout.FatGeometry
) -> Iterator[ByteRun]:
    """The parts of ``runs`` that are not holes of a sparse image, widened to whole sectors
    of the volume (a sector may straddle a hole's edge)."""
    data = work_copy.data_blocks(stream.fileno(), os.fstat(stream.fileno()).st_size)
    if data is None:
        yield from runs
        return
    grid = found.sector_size
    for run in runs:
        for block in data:
            start, end = max(run.offset, block.offset), min(run.end, block.end)
            if start < end:
                start -= (start - found.offset) % grid
                end = min(run.end, end + (-(end - found.offset) % grid))
                yield ByteRun(start, end - start)


def names_checked(root: bytes, root_names: int) -> bool:
    """Given the root directory's bytes and how many names TSK lists in it, return True when
    TSK certainly checks 8.3 names on this volume (not its Android subtype).

    TSK picks the Android subtype only when the root, read with the name check, lists at most
    AUTOMATIC_NAMES names (with its own automatic ones), and more without it. The names it
    lists without the check but not with it are short entries that fail the name check; so
    when the names listed minus every short entry failing it (an upper bound) is still more
    than AUTOMATIC_NAMES, the name check was in force."""
    failing = 0
    for start in range(0, len(root) - ENTRY + 1, ENTRY):
        entry = root[start : start + ENTRY]
        is_long = entry[11] & LONG_NAME == LONG_NAME
        if not is_long and any(entry) and not is_83_name(entry, ascii_extension=True):
            failing += 1
    return root_names - failing > AUTOMATIC_NAMES


@dataclasses.dataclass(frozen=True)
class TskView:
    """What TSK itself said about the volume: its type, sector size and count, and how many
    names it lists in the root folder (automatic ones included)."""

    filesystem: str
    block_size: int
    block_count: int
    root_names: int


def may_find_orphans(stream: BinaryIO, offset: int, view: TskView) -> bool:
    """Given the image (a binary file), the volume's offset and what TSK said about it, return
    False when no unallocated sector of the volume holds anything TSK's orphan search could
    take for a directory entry (the search would find nothing); True otherwise, and whenever
    the volume is odd or cannot be read."""
    image_size = os.fstat(stream.fileno()).st_size
    stream.seek(offset)
    boot = stream.read(512)
    found = fat_layout.geometry(boot, offset, view.filesystem)
    if found is None or (found.sector_size, found.sectors) != (view.block_size, view.block_count):
        return True  # not the boot sector TSK read
    stream.seek(found.sector_offset(found.first_fat_sector))
    size = fat_layout.fat_bytes(found)
    if size > MAX_FAT_BYTES:  # a volume this large: TSK's search, not a FAT this size in memory
        return True
    table = stream.read(size)
    if len(table) < size:
        return True
    root = fat_layout.root_directory(stream, found, boot, table)
    names = root is not None and names_checked(root, view.root_names)
    zeros = bytes(READ_CHUNK)
    for part in _data_parts(stream, fat_layout.free_runs(found, table, image_size), found):
        position = part.offset
        while position < part.end:
            length = min(READ_CHUNK, part.end - position)
            length -= length % found.sector_size
            if length <= 0:
                break
            stream.seek(position)
            data = stream.read(length)
            data = data[: len(data) - len(data) % found.sector_size]
            if data != zeros[: len(data)] and data_may_hold_orphans(
                data, found.sector_size, found.data_bytes, names=names
            ):
                return True
            if len(data) < length:
                break
            position += length
    return False


def search_needed(image: pathlib.Path, partition: Partition, facts: dict | None) -> bool:
    """Given the image, a partition TSK found a file system on and what TSK said about it
    (``TskClient.volume``), return whether TSK's orphan search must run: always, but on a
    FAT12/16/32 volume none of whose free sectors could give it an orphan."""
    if partition.filesystem not in fat_layout.FAT_KINDS or not facts:
        return True
    try:
        view = TskView(
            partition.filesystem,
            int(facts["block_size"]),
            int(facts["block_count"]),
            int(facts["root_names"]),
        )
        with open(image, "rb") as stream:
            needed = may_find_orphans(stream, partition.offset, view)
    except (OSError, KeyError, TypeError, ValueError, struct.error):
        return True
    if not needed:
        logger.debug("partition %d: no free sector could hold a directory entry", partition.index)
    return needed
