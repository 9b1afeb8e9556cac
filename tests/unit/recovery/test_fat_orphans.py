"""The FAT orphan check never says "nothing to find" where The Sleuth Kit's orphan search finds
something, and reads the volume's layout as TSK does.

Real parts: FAT images made by mkfs.fat and mtools (plain files, no loop device), and The Sleuth
Kit itself (pytsk3, in-process here) as the judge of what its orphan search finds.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import struct
import subprocess

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from recovery import fat_layout, fat_orphans, filesystems
from recovery.scan_model import Partition
from tests.fixtures import make_media
from tests.fixtures.requirements import skip_or_fail

MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


def _require_tools() -> None:
    if shutil.which("mkfs.fat") is None or shutil.which("mcopy") is None:
        skip_or_fail("dosfstools or mtools missing (scripts/setup.sh --test)")


def _fat_image(path: pathlib.Path, kind: str, mib: int, files: int) -> pathlib.Path:
    """A FAT image with ``files`` small files in its root (none when 0)."""
    with open(path, "wb") as stream:
        stream.truncate(mib << 20)
    subprocess.run(("mkfs.fat", "-F", kind, "-s", "1", str(path)), check=True, capture_output=True)
    for index in range(files):
        source = path.parent / f"f{index}.txt"
        source.write_text(f"file {index}\n" * (index + 1))
        subprocess.run(
            ("mcopy", "-i", str(path), str(source), f"::/F{index}.TXT"),
            check=True,
            capture_output=True,
            env=MTOOLS,
        )
    return path


def _tsk(image: pathlib.Path) -> tuple[Partition, dict, list]:
    """What TSK says about the image's one volume, and what its orphan search finds."""
    _, partitions, systems = filesystems.open_image(str(image), lambda message: None)
    system = systems[0]
    orphans = list(filesystems.walk_orphans(system, lambda message: None))
    return system.partition, filesystems.volume_facts(system), orphans


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    """FAT12 and FAT32 volumes with files in the root, and a FAT16 one with an empty root (TSK
    then tries its Android subtype, which drops the 8.3 name check)."""
    _require_tools()
    folder = tmp_path_factory.mktemp("fat")
    built = {
        "fat12": _fat_image(folder / "fat12.img", "12", 2, 3),
        "fat16": _fat_image(folder / "fat16.img", "16", 16, 0),
        "fat32": _fat_image(folder / "fat32.img", "32", 34, 2),
    }
    places = {}
    for kind, image in built.items():
        partition, facts, orphans = _tsk(image)
        assert partition.filesystem == kind and orphans == []
        assert not fat_orphans.search_needed(image, partition, facts)
        with open(image, "rb") as stream:
            boot = stream.read(512)
            found = fat_layout.geometry(boot, 0, kind)
            stream.seek(found.sector_offset(found.first_fat_sector))
            table = stream.read(fat_layout.fat_bytes(found))
        runs = fat_layout.free_runs(found, table, image.stat().st_size)
        middle = runs[0].offset + (runs[0].length // 2) // found.sector_size * found.sector_size
        places[kind] = (image, middle)
    return places


VALID_ENTRY = (
    b"README  TXT"
    + bytes((0x20, 0, 0))
    + struct.pack("<HHHHHHHI", 0x6000, 0x5A21, 0x5A21, 0, 0x6000, 0x5A21, 5, 700)
)
# a valid short entry with a few of its bytes changed: near TSK's test's edges on both sides
mutated_entries = st.lists(
    st.tuples(st.integers(0, 31), st.integers(0, 255)), min_size=0, max_size=3
).map(lambda changes: _changed(VALID_ENTRY, changes))
long_name_entries = st.builds(
    lambda sequence, rest: bytes((sequence,)) + rest[:10] + b"\x0f" + rest[10:],
    st.sampled_from([0x01, 0x41, 0x4F, 0x50, 0xE5]),
    st.binary(min_size=20, max_size=20),
)
entries = st.one_of(mutated_entries, long_name_entries, st.binary(min_size=32, max_size=32))
sectors = st.tuples(
    st.one_of(mutated_entries, long_name_entries), st.lists(entries, min_size=15, max_size=15)
).map(lambda parts: parts[0] + b"".join(parts[1]))


def _changed(entry: bytes, changes: list[tuple[int, int]]) -> bytes:
    changed = bytearray(entry)
    for index, value in changes:
        changed[index] = value
    return bytes(changed)


@example(kind="fat32", sector=VALID_ENTRY * 16)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(["fat12", "fat16", "fat32"]), sector=sectors)
def test_the_check_keeps_the_search_wherever_tsk_finds_an_orphan(volumes, kind, sector):
    image, offset = volumes[kind]
    with open(image, "r+b") as stream:
        stream.seek(offset)
        stream.write(sector)
    try:
        partition, facts, orphans = _tsk(image)
        needed = fat_orphans.search_needed(image, partition, facts)
        assert needed or not orphans, [item.path for item in orphans]
    finally:
        with open(image, "r+b") as stream:
            stream.seek(offset)
            stream.write(bytes(len(sector)))


EDGES = {  # each just inside one of the limits of TSK's directory-entry test
    "tenths of a second": [(13, 200)],
    "lower-case flags": [(12, 0x18)],
    "attributes": [(11, 0x27)],
    "23:59": list(enumerate(struct.pack("<H", (23 << 11) | (59 << 5)), start=14)),
    "31 December": list(enumerate(struct.pack("<H", (45 << 9) | (12 << 5) | 31), start=16)),
    "0x05 for E5": [(0, 0x05)],
    "no times": [(index, 0) for index in (14, 15, 16, 17, 18, 19, 22, 23, 24, 25)],
}


@pytest.mark.parametrize("edge", sorted(EDGES))
def test_entries_at_the_edge_of_tsks_test_keep_the_search(volumes, edge):
    image, offset = volumes["fat32"]
    sector = _changed(VALID_ENTRY, EDGES[edge]) + bytes(480)
    with open(image, "r+b") as stream:
        stream.seek(offset)
        stream.write(sector)
    try:
        partition, facts, orphans = _tsk(image)
        assert orphans, "TSK took this entry for an orphan: the table is honest"
        assert fat_orphans.search_needed(image, partition, facts)
    finally:
        with open(image, "r+b") as stream:
            stream.seek(offset)
            stream.write(bytes(len(sector)))


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(sectors, min_size=1, max_size=4).map(b"".join),
    names=st.booleans(),
    sector_size=st.sampled_from([512, 1024]),
)
def test_the_bulk_look_agrees_with_the_sector_by_sector_definition(data, names, sector_size):
    data = data[: len(data) - len(data) % sector_size] or bytes(sector_size)
    expected = any(
        fat_orphans.sector_may_hold_orphans(data[start : start + sector_size], 1 << 30, names=names)
        for start in range(0, len(data), sector_size)
    )
    assert fat_orphans.data_may_hold_orphans(data, sector_size, 1 << 30, names=names) == expected


def test_a_deleted_folder_in_free_clusters_keeps_the_search_and_tsk_finds_its_files(tmp_path):
    _require_tools()
    image, originals = make_media.build_fat32_orphans(tmp_path, files=4)
    partition, facts, orphans = _tsk(image)
    assert len(orphans) == len(originals)
    assert fat_orphans.search_needed(image, partition, facts)


def test_a_volume_with_only_deleted_files_needs_no_orphan_search(tmp_path):
    _require_tools()
    image, originals = make_media.build("fat32", tmp_path, files=9)
    partition, facts, orphans = _tsk(image)
    assert orphans == [] and sum(item["deleted"] for item in originals) == 3
    assert not fat_orphans.search_needed(image, partition, facts)


def test_a_fat_too_large_to_hold_in_memory_leaves_the_search_to_tsk(tmp_path):
    image = tmp_path / "huge.img"
    boot = _boot(sectors32=0xFFFFFFF0, fat_sectors32=0x200000, cluster_sectors=64)  # 2 TiB
    with open(image, "wb") as stream:  # sparse: all of the FAT is there to read (zeros)
        stream.write(boot)
        stream.truncate(300 << 20)
    facts = {"block_size": 512, "block_count": 0xFFFFFFF0, "root_names": 9}
    partition = Partition(0, 0, image.stat().st_size, "", "none", "fat32")
    assert fat_layout.fat_bytes(fat_layout.geometry(boot, 0, "fat32")) > fat_orphans.MAX_FAT_BYTES
    assert fat_orphans.search_needed(image, partition, facts)


def test_other_file_systems_and_missing_facts_always_search(tmp_path):
    image = tmp_path / "any.img"
    image.write_bytes(bytes(4096))
    assert fat_orphans.search_needed(image, Partition(0, 0, 4096, "", "none", "ntfs"), {})
    assert fat_orphans.search_needed(image, Partition(0, 0, 4096, "", "none", "fat32"), None)
    facts = {"block_size": 512, "block_count": 8, "root_names": 9}
    assert fat_orphans.search_needed(image, Partition(0, 0, 4096, "", "none", "fat32"), facts)


def _boot(**values) -> bytes:
    fields = {
        "sector_size": 512,
        "cluster_sectors": 1,
        "reserved": 32,
        "fats": 2,
        "roots": 0,
        "sectors16": 0,
        "fat_sectors16": 0,
        "sectors32": 81920,
        "fat_sectors32": 630,
        **values,
    }
    boot = bytearray(512)
    struct.pack_into(
        "<HBHBHH",
        boot,
        11,
        fields["sector_size"],
        fields["cluster_sectors"],
        fields["reserved"],
        fields["fats"],
        fields["roots"],
        fields["sectors16"],
    )
    struct.pack_into("<H", boot, 22, fields["fat_sectors16"])
    struct.pack_into("<II", boot, 32, fields["sectors32"], fields["fat_sectors32"])
    boot[510:512] = b"\x55\xaa"
    return bytes(boot)


def test_geometry_is_read_as_tsk_reads_it_and_odd_boot_sectors_are_refused():
    found = fat_layout.geometry(_boot(), 1 << 20, "fat32")
    assert (found.first_cluster_sector, found.cluster_count, found.kind) == (1292, 80628, 32)
    assert found.sector_offset(1) == (1 << 20) + 512
    assert fat_layout.geometry(_boot()[:510] + b"\xaa\x55", 0, "fat32") is None  # big-endian
    assert fat_layout.geometry(_boot(), 0, "fat16") is None  # TSK saw another type
    assert fat_layout.geometry(_boot(sector_size=768), 0, "fat32") is None
    assert fat_layout.geometry(_boot(cluster_sectors=3), 0, "fat32") is None
    assert fat_layout.geometry(_boot(fats=0), 0, "fat32") is None
    assert fat_layout.geometry(_boot(roots=512), 0, "fat32") is None  # FAT32 has no fixed root
    assert fat_layout.geometry(_boot(sectors32=20), 0, "fat32") is None  # reserved past the end


def _naive_free(kind: int, table: bytes, last: int) -> set[int]:
    free = set()
    for cluster in range(2, last + 1):
        if kind == 12:
            index = cluster + cluster // 2
            value = int.from_bytes(table[index : index + 2], "little")
            value = value >> 4 if cluster % 2 else value & 0xFFF
        else:
            width = kind // 8
            value = int.from_bytes(table[cluster * width : cluster * width + width], "little")
            value &= 0x0FFFFFFF if kind == 32 else 0xFFFF
        if value == 0:
            free.add(cluster)
    return free


@given(
    kind=st.sampled_from([12, 16, 32]),
    entries=st.lists(st.sampled_from([0, 0, 0, 1, 0xFF, 0xF0000000, 0x0FFFFFF8]), max_size=80),
)
def test_free_clusters_are_the_entries_tsk_reads_as_zero(kind, entries):
    clusters = max(len(entries) - 2, 1)
    found = fat_layout.FatGeometry(0, kind, 512, 1, 1, 10, clusters, 10 + clusters)
    size = fat_layout.fat_bytes(found)
    if kind == 12:
        table = bytearray(size + 1)
        for cluster, value in enumerate(entries[: clusters + 2]):
            index = cluster + cluster // 2
            pair = int.from_bytes(table[index : index + 2], "little")
            pair |= (value & 0xFFF) << 4 if cluster % 2 else value & 0xFFF
            table[index : index + 2] = pair.to_bytes(2, "little")
        table = bytes(table[:size])
    else:
        width = kind // 8
        values = [*entries, *[0] * (clusters + 2 - len(entries))][: clusters + 2]
        table = b"".join((value % (1 << kind)).to_bytes(width, "little") for value in values)
    runs = fat_layout.free_clusters(found, table)
    listed = {first + step for first, count in runs for step in range(count)}
    assert listed == _naive_free(kind, table, clusters + 1)


def test_the_8_3_name_check_follows_tsk():
    assert fat_orphans.is_83_name(b"README  TXT\x20")
    assert fat_orphans.is_83_name(b"\xe5EADME  TXT\x20")  # deleted
    assert fat_orphans.is_83_name(b".          \x10")
    assert not fat_orphans.is_83_name(b"\x00" * 12)
    assert not fat_orphans.is_83_name(b"RE ADME TXT\x20")  # a space before a letter
    assert not fat_orphans.is_83_name(b"READ*ME TXT\x20")
    assert fat_orphans.is_83_name(b"RE ADME TXT\x08")  # volume labels may hold spaces
    assert not fat_orphans.is_83_name(b"README  \xe9\xe9\xe9\x20", ascii_extension=True)


def test_names_are_checked_only_when_the_root_proves_tsk_checks_them():
    good = b"README  TXT\x20" + bytes(20)
    nameless = b"\x00" * 11 + b"\x20" + b"\x01" + bytes(19)
    assert fat_orphans.names_checked(good * 2, 5)
    assert not fat_orphans.names_checked(good + nameless, 5)  # may be TSK's Android subtype
    assert not fat_orphans.names_checked(good, 4)


@settings(max_examples=150, deadline=None)
@given(
    boot=st.binary(min_size=0, max_size=512),
    rest=st.binary(min_size=0, max_size=8192),
    facts=st.tuples(st.sampled_from([512, 1024]), st.integers(0, 1 << 20), st.integers(-1, 9)),
)
def test_fuzz_damaged_volumes_never_break_the_check(tmp_path_factory, boot, rest, facts):
    image = tmp_path_factory.mktemp("fuzz") / "image"
    signed = boot.ljust(512, b"\0")[:510] + b"\x55\xaa" if len(boot) > 300 else boot
    image.write_bytes(signed + rest)
    partition = Partition(0, 0, image.stat().st_size, "", "none", "fat16")
    facts_dict = dict(zip(("block_size", "block_count", "root_names"), facts, strict=True))
    assert fat_orphans.search_needed(image, partition, facts_dict) in (True, False)
