"""Imaging decisions (safety reasons, which ddrescue runs remain) and the hashes, all pure."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery import image_hash, imaging
from recovery import mapfile as mapfile_module
from recovery.devices import BlockDevice, Partition

BASE = BlockDevice(
    node="/dev/sdz",
    kind="usb-disk",
    bus="usb",
    vendor="ACME",
    model="Disk",
    serial="S1",
    size_bytes=1 << 30,
    logical_sector_size=512,
    physical_sector_size=4096,
    removable=False,
    read_only=False,
    filesystem=None,
    mountpoints=(),
    partitions=(),
    is_system=False,
    system_reasons=(),
)


def device(**changes) -> BlockDevice:
    return dataclasses.replace(BASE, **changes)


def test_output_on_the_device_itself_or_a_stacked_device_is_refused():
    stacked = frozenset({(8, 16), (8, 17), (253, 3)})
    for number in [(8, 16), (8, 17), (253, 3)]:
        reasons = imaging.output_on_source_reasons(
            device(), output_dir=pathlib.Path("/srv/out"), output_number=number, stacked=stacked
        )
        assert reasons and "is /dev/sdz or built on it" in reasons[0]
    assert (
        imaging.output_on_source_reasons(
            device(), output_dir=pathlib.Path("/srv/out"), output_number=(8, 0), stacked=stacked
        )
        == ()
    )


def test_output_under_a_mount_point_of_a_partition_is_refused_whatever_the_device_number():
    mounted = device(partitions=(Partition("/dev/sdz1", 1, 1 << 29, "btrfs", None, ("/media/c",)),))
    reasons = imaging.output_on_source_reasons(
        mounted,
        output_dir=pathlib.Path("/media/c/images"),
        output_number=(0, 45),
        stacked=frozenset(),
    )
    assert reasons == ("output directory /media/c/images is under /media/c, mounted from /dev/sdz",)
    assert (
        imaging.output_on_source_reasons(
            mounted,
            output_dir=pathlib.Path("/media/cx"),
            output_number=(0, 45),
            stacked=frozenset(),
        )
        == ()
    )


def test_system_and_mounted_devices_need_the_explicit_flag():
    system = device(is_system=True, system_reasons=("partition /dev/sdz1 mounted at /",))
    reasons = imaging.system_reasons(system, force_system=False)
    assert (
        reasons[0] == "partition /dev/sdz1 mounted at /" and "--force-system-device" in reasons[-1]
    )
    assert len(reasons) == 2  # the mount is not told twice
    assert imaging.system_reasons(system, force_system=True) == ()
    assert imaging.system_reasons(device(mountpoints=("/mnt",)), force_system=False)[0].endswith(
        "/mnt"
    )
    assert imaging.system_reasons(device(), force_system=False) == ()


@pytest.mark.parametrize(
    ("existing", "free", "refused"),
    [
        (0, 2 << 30, False),
        (0, 1 << 30, True),
        (1 << 29, (1 << 29) + (1 << 20), False),
        (1 << 30, 1 << 20, False),
    ],
)
def test_free_space_counts_what_a_resumed_image_already_holds(existing, free, refused):
    reasons = imaging.space_reasons(
        size_bytes=1 << 30, existing_image_bytes=existing, free_bytes=free
    )
    assert bool(reasons) is refused


def mapfile_of(*blocks) -> mapfile_module.Mapfile:
    result, position = [], 0
    for size, status in blocks:
        result.append(mapfile_module.Block(position, size, mapfile_module.BlockStatus(status)))
        position += size
    return mapfile_module.Mapfile(0, "?", 1, tuple(result))


@pytest.mark.parametrize(
    ("current", "retries", "runs"),
    [
        (None, 1, ("copy", "scrape")),
        (mapfile_of((10, "+"), (5, "?")), 1, ("copy", "scrape")),
        (mapfile_of((10, "+"), (5, "*")), 0, ("copy", "scrape")),
        (mapfile_of((10, "+"), (5, "/")), 0, ("scrape",)),
        (mapfile_of((10, "+"), (5, "-")), 2, ("scrape",)),
        (mapfile_of((10, "+"), (5, "-")), 0, ()),
        (mapfile_of((10, "+")), 3, ()),
    ],
)
def test_choose_runs_from_the_mapfile(current, retries, runs):
    assert imaging.choose_phases(current, retries=retries)[0] == runs


def test_compare_digests_names_every_difference():
    recorded = {"size": 4, "md5": "a", "sha256": "b"}
    assert imaging.compare_digests(recorded, dict(recorded)) == ()
    assert imaging.compare_digests(recorded, {"size": 4, "md5": "x", "sha256": "y"}) == (
        "md5: recorded a, now x",
        "sha256: recorded b, now y",
    )


@given(data=st.binary(max_size=3 * image_hash.CHUNK // 1024))
def test_one_read_gives_both_standard_digests(data):
    digests = image_hash.hash_stream(io.BytesIO(data))
    assert digests == image_hash.Digests(
        hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), len(data)
    )


@given(
    data=st.binary(min_size=1, max_size=4096),
    cuts=st.lists(st.integers(min_value=0, max_value=4096), max_size=5),
)
def test_following_the_finished_prefix_gives_the_digests_of_the_final_file(
    tmp_path_factory, data, cuts
):
    image = tmp_path_factory.mktemp("follow") / "image"
    image.write_bytes(data)
    follower = image_hash.FollowingHasher(image)
    for cut in sorted(min(cut, len(data)) for cut in cuts):  # the finished prefix only grows
        rest = len(data) - cut
        blocks = ((cut, "+"), (rest, "?")) if rest else ((cut, "+"),)
        follower.follow(mapfile_of(*blocks))
        assert follower.position == cut
    assert follower.finish() == image_hash.hash_stream(io.BytesIO(data))


def test_read_mapfile_treats_a_half_written_map_as_not_ready(tmp_path):
    path = tmp_path / "map"
    assert image_hash.read_mapfile(path) is None
    path.write_text("0 ? 1\n0 0x100")
    assert image_hash.read_mapfile(path) is None
    path.write_text("0 ? 1\n0 0x100 +\n")
    assert image_hash.read_mapfile(path).finished_prefix() == 0x100


def test_a_mounted_device_is_read_with_direct_access_even_unasked():
    assert imaging.choose_direct(device(), requested=False) == (False, None)
    assert imaging.choose_direct(device(), requested=True) == (True, None)
    direct, why = imaging.choose_direct(device(mountpoints=("/mnt",)), requested=False)
    assert direct and "mounted" in why


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=1024), cuts=st.lists(st.integers(0, 1024), max_size=6))
def test_threaded_hash_with_a_tiny_ring_matches_hashlib(data, cuts):
    """A 16-byte chunk and a ring of 4: the reader laps the digest threads many times."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(image_hash, "CHUNK", 16)
        hasher = image_hash.IncrementalHasher()
    stream = io.BytesIO(data)
    for target in sorted(cuts):  # the overlapped hash advances in steps
        hasher.advance(stream, min(target, len(data)))
    hasher.advance(stream, None)
    assert hasher.digests() == image_hash.Digests(
        hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), len(data)
    )


def test_threaded_hash_of_several_chunks_matches_hashlib():
    data = os.urandom(5 * image_hash.CHUNK + 12345)
    assert image_hash.hash_stream(io.BytesIO(data)) == image_hash.Digests(
        hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), len(data)
    )
