"""A short fuzz run of the whole file-system side of a scan: damaged FAT32 and ext4 images.

Real parts: images written by mkfs.fat/mtools and mkfs.ext4, The Sleuth Kit. Hypothesis
overwrites bytes where the file systems keep their structures (boot sector, FAT, superblock,
group descriptors, inode table, directories); the scan must end with a manifest, whatever it
finds, and never raise.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recovery import scan
from tests.fixtures import make_media
from tests.fixtures.requirements import skip_or_fail


@pytest.fixture(scope="module")
def small_media(tmp_path_factory):
    if shutil.which("mcopy") is None or shutil.which("mkfs.ext4") is None:
        skip_or_fail("mtools or e2fsprogs missing (scripts/setup.sh --test)")
    folder = tmp_path_factory.mktemp("fuzz-media")
    return {
        kind: make_media.build(kind, folder, files=9)[0].read_bytes() for kind in ("fat32", "ext4")
    }


SCRATCH = "/dev/shm" if pathlib.Path("/dev/shm").is_dir() else None  # 40 MiB per example

mutations = st.lists(
    # the first 96 KiB (boot sector, FSInfo, FAT; superblock, descriptors, bitmaps, inodes) and
    # FAT32's first data clusters (the root directory and the folders after the two FATs)
    st.tuples(
        st.one_of(st.integers(0, 96 * 1024 - 1), st.integers(640 * 1024, 720 * 1024)),
        st.binary(min_size=1, max_size=64),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize("kind", ["fat32", "ext4"])
@given(changes=mutations)
@settings(
    max_examples=8,
    derandomize=True,  # the same examples on every run: a steady suite time
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_scan_of_a_damaged_image_ends_with_a_manifest(small_media, kind, changes):
    image = bytearray(small_media[kind])
    for offset, data in changes:
        image[offset : offset + len(data)] = data
    with tempfile.TemporaryDirectory(dir=SCRATCH) as folder:
        path = pathlib.Path(folder) / "damaged.img"
        path.write_bytes(bytes(image))
        result = scan.scan(
            path, None, pathlib.Path(folder) / "out", options=scan.ScanOptions(carve=False)
        )
        manifest = json.loads((pathlib.Path(folder) / "out" / "manifest.json").read_text())
    assert len(manifest["files"]) == len(result.entries)
