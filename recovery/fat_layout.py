"""Where a FAT12/16/32 volume keeps its parts, read the way The Sleuth Kit reads them.

From the boot sector: sector and cluster sizes, the first FAT, the first cluster, how many
clusters (``geometry``, with TSK's own checks: a boot sector TSK would refuse gives None). From
the first FAT: the runs of free clusters (``free_clusters``, all entries at once) and, with the
sectors past the last cluster, the byte runs on the image that TSK counts as unallocated
(``free_runs``). The root folder's bytes (``root_directory``). Pure functions over bytes, but
``root_directory``, which reads a bounded cluster chain; the image is untrusted.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from collections.abc import Iterator
from typing import BinaryIO

from recovery.scan_model import ByteRun, merge_runs

FAT_KINDS = {"fat12": 12, "fat16": 16, "fat32": 32}
SECTOR_SIZES = (512, 1024, 2048, 4096)
CLUSTER_SECTORS = (1, 2, 4, 8, 16, 32, 64, 128)
MAX_CLUSTERS = 0x0FFFFFF5
ENTRY = 32
FAT32_END = 0x0FFFFFF8
MAX_ROOT_BYTES = 64 << 20
_FREE = re.compile(rb"\x00+")
_LOW_NIBBLE = bytes(value & 0x0F for value in range(256))  # FAT32 entries: 28 bits


@dataclasses.dataclass(frozen=True)
class FatGeometry:
    """Where a FAT volume's parts lie, as TSK computes them from its boot sector (sectors are
    counted from the volume start, ``offset`` bytes into the image)."""

    offset: int
    kind: int  # 12, 16 or 32
    sector_size: int
    cluster_sectors: int
    first_fat_sector: int
    first_cluster_sector: int
    cluster_count: int
    sectors: int

    @property
    def data_bytes(self) -> int:
        return self.cluster_count * self.cluster_sectors * self.sector_size

    def sector_offset(self, sector: int) -> int:
        return self.offset + sector * self.sector_size

    def cluster_sector(self, cluster: int) -> int:
        return self.first_cluster_sector + (cluster - 2) * self.cluster_sectors


def geometry(boot: bytes, offset: int, filesystem: str) -> FatGeometry | None:
    """Given the first sector of a volume TSK opened as ``filesystem`` (fat12, fat16, fat32)
    at image offset ``offset``, return its geometry; None when TSK would not have used this
    boot sector as it is (no signature, a value it rejects, another FAT type)."""
    kind = FAT_KINDS.get(filesystem)
    if kind is None or len(boot) < 512 or boot[510:512] != b"\x55\xaa":
        return None  # TSK then tries a backup boot sector, or reads it big-endian
    sector_size, cluster_sectors, reserved, fats, roots, sectors16 = struct.unpack_from(
        "<HBHBHH", boot, 11
    )
    (fat_sectors16,) = struct.unpack_from("<H", boot, 22)
    sectors32, fat_sectors32 = struct.unpack_from("<II", boot, 32)
    sectors = sectors16 or sectors32
    fat_sectors = fat_sectors16 or fat_sectors32
    sane = (
        sector_size in SECTOR_SIZES
        and cluster_sectors in CLUSTER_SECTORS
        and 1 <= fats <= 8
        and fat_sectors
        and 0 < reserved <= sectors
    )
    if not sane:
        return None
    first_cluster = reserved + fat_sectors * fats + (roots * ENTRY + sector_size - 1) // sector_size
    if first_cluster > sectors:
        return None
    clusters = (sectors - first_cluster) // cluster_sectors
    detected = 12 if clusters < 4085 else 16 if clusters < 65525 else 32
    if detected != kind or (kind == 32) != (roots == 0) or clusters > MAX_CLUSTERS:
        return None
    return FatGeometry(
        offset, kind, sector_size, cluster_sectors, reserved, first_cluster, clusters, sectors
    )


def fat_bytes(found: FatGeometry) -> int:
    """How many bytes of the first FAT hold the entries of clusters 0 to the last."""
    entries = found.cluster_count + 2
    return (entries * found.kind + 7) // 8


def free_clusters(found: FatGeometry, table: bytes) -> Iterator[tuple[int, int]]:
    """Given the geometry and the first FAT (``fat_bytes`` long), yield (first cluster, count)
    for each run of free clusters (entry 0, as TSK reads it) among clusters 2 to the last."""
    last = found.cluster_count + 1
    if found.kind == 12:
        yield from _free_fat12(table, last)
        return
    width = found.kind // 8
    columns = [table[index::width] for index in range(width)]
    if found.kind == 32:
        columns[3] = columns[3].translate(_LOW_NIBBLE)
    # one byte per entry, zero where all of the entry's bytes are: the OR of its bytes, for
    # every entry at once (integers of the byte columns)
    count = len(columns[0])
    combined = 0
    for column in columns:
        combined |= int.from_bytes(column, "little")
    ored = combined.to_bytes(count, "little")
    for match in _FREE.finditer(ored, 2, last + 1):
        yield match.start(), match.end() - match.start()


def _free_fat12(table: bytes, last: int) -> Iterator[tuple[int, int]]:
    start = None
    for cluster in range(2, last + 1):
        index = cluster + (cluster >> 1)
        value = table[index] | (table[index + 1] << 8)
        value = (value >> 4) if cluster & 1 else (value & 0x0FFF)
        if value == 0 and start is None:
            start = cluster
        elif value and start is not None:
            yield start, cluster - start
            start = None
    if start is not None:
        yield start, last + 1 - start


def free_runs(found: FatGeometry, table: bytes, image_size: int) -> tuple[ByteRun, ...]:
    """Given the geometry, the first FAT and the image size, return the byte runs on the image
    that TSK's orphan search reads: the free clusters and the sectors past the last cluster."""
    runs = [
        ByteRun(
            found.sector_offset(found.cluster_sector(first)),
            count * found.cluster_sectors * found.sector_size,
        )
        for first, count in free_clusters(found, table)
    ]
    tail = found.cluster_sector(found.cluster_count + 2)
    if tail < found.sectors:
        runs.append(ByteRun(found.sector_offset(tail), (found.sectors - tail) * found.sector_size))
    end = min(image_size, found.sector_offset(found.sectors))
    return tuple(
        ByteRun(run.offset, min(run.end, end) - run.offset)
        for run in merge_runs(runs)
        if run.offset < end
    )


def root_directory(stream: BinaryIO, found: FatGeometry, boot: bytes, table: bytes) -> bytes | None:
    """Given the image, the geometry, the boot sector and the first FAT, return the root
    directory's bytes: FAT12/16's fixed area, FAT32's cluster chain (to its
    end mark); None when the chain is odd (free, bad or out-of-range cluster, a loop) or long."""
    if found.kind != 32:  # the fixed area between the FATs and the first cluster
        (roots,) = struct.unpack_from("<H", boot, 17)
        size = (roots * ENTRY + found.sector_size - 1) // found.sector_size * found.sector_size
        stream.seek(found.sector_offset(found.first_cluster_sector) - size)
        data = stream.read(size)
        return data if len(data) == size and size <= MAX_ROOT_BYTES else None
    cluster_bytes = found.cluster_sectors * found.sector_size
    (cluster,) = struct.unpack_from("<I", boot, 44)
    cluster &= 0x0FFFFFFF
    seen, parts = set(), []
    while cluster < FAT32_END:
        if not 2 <= cluster <= found.cluster_count + 1 or cluster in seen:
            return None
        if (len(seen) + 1) * cluster_bytes > MAX_ROOT_BYTES:
            return None
        seen.add(cluster)
        stream.seek(found.sector_offset(found.cluster_sector(cluster)))
        part = stream.read(cluster_bytes)
        if len(part) < cluster_bytes:
            return None
        parts.append(part)
        (cluster,) = struct.unpack_from("<I", table, cluster * 4)
        cluster &= 0x0FFFFFFF
    return b"".join(parts)
