"""Imaging against real parts: GNU ddrescue reading a FUSE-backed failing disk through a loop
device.

Needs root, /dev/fuse and /dev/loop-control (the faulty_disk fixture skips with the reason).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest

from backupctl.actions import image as image_action
from recovery import blockdev, errors, image_hash, image_run, imaging
from recovery import mapfile as mapfile_module
from tests.fixtures.faulty_disk import Region
from tests.integration.recovery.conftest import processes_with_argument, wait_until, who

MIB = 1024 * 1024
ROOT = pathlib.Path(__file__).resolve().parents[3]
BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"


def read_map(path: pathlib.Path) -> mapfile_module.Mapfile:
    with open(path) as stream:
        return mapfile_module.parse(stream)


def kinds(store, job_id) -> list[str]:
    return [event.kind for event in store.events(job_id)]


def overlaps(reads, blocks) -> list:
    return [
        (offset, length)
        for offset, length in reads
        for block in blocks
        if offset < block.end and block.position < offset + length
    ]


BAD = (Region(3 * MIB, 8192), Region(17 * MIB + 4096, 3 * 4096), Region(31 * MIB, 512))


def test_bad_areas_land_in_the_mapfile_and_every_readable_byte_is_rescued(faulty_disk, state):
    store, job, state_dir = state
    disk = faulty_disk(size=32 * MIB, bad=BAD)
    request = image_action.Request(job.job_id, disk.node, direct=True, retries=1)
    details = image_action.image(store, request, who(state_dir))

    paths = details["paths"]
    final = read_map(pathlib.Path(paths["mapfile"]))
    assert [(area.position, area.size) for area in final.bad_areas()] == [
        (region.start, region.length) for region in BAD
    ]
    assert final.totals().finished and final.totals().bad_sector == sum(r.length for r in BAD)
    original, rescued = disk.backing.read_bytes(), pathlib.Path(paths["image"]).read_bytes()
    assert len(rescued) == len(original)
    position = 0
    for region in BAD:  # identical outside the bad areas, zeros inside them
        assert rescued[position : region.start] == original[position : region.start]
        assert rescued[region.start : region.start + region.length] == bytes(region.length)
        position = region.start + region.length
    assert rescued[position:] == original[position:]
    assert details["md5"] == hashlib.md5(rescued).hexdigest()
    assert details["sha256"] == hashlib.sha256(rescued).hexdigest()
    assert details["totals"]["bad_area_list"] == [[r.start, r.length] for r in BAD]
    assert details["ddrescue_version"].startswith("1.")
    assert any("--retry-passes=1" in argv for argv in details["command_lines"])
    assert kinds(store, job.job_id)[-2:] == ["image.started", "image.finished"]


def test_source_is_read_only_while_imaging_and_restored_after(faulty_disk, state):
    store, job, state_dir = state
    disk = faulty_disk(size=8 * MIB, slow=(Region(4 * MIB, MIB, 0.05),))
    assert blockdev.get_read_only(disk.node) is False
    seen = []
    request = image_action.Request(job.job_id, disk.node, direct=True)
    details = image_action.image(
        store,
        request,
        who(state_dir),
        on_progress=lambda _: seen.append(blockdev.get_read_only(disk.node)),
    )
    assert seen and all(seen)
    assert details["read_only_enforced"] is True
    assert blockdev.get_read_only(disk.node) is False


def test_refuses_output_on_the_source_medium_even_when_forced(tmp_path, make_loop, state):
    store, job, state_dir = state
    backing = tmp_path / "medium.img"
    backing.write_bytes(bytes(32 * MIB))
    subprocess.run(("mkfs.ext4", "-q", str(backing)), check=True)
    node = make_loop(backing)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    subprocess.run(("mount", node, str(mountpoint)), check=True)
    try:
        for force in (False, True):
            request = image_action.Request(
                job.job_id, node, out_dir=mountpoint / "out", force_system=force
            )
            with pytest.raises(errors.RefusedError) as caught:
                image_action.image(store, request, who(state_dir))
            assert "is on device" in str(caught.value) and caught.value.exit_code == 4
            assert ("--force-system-device" in str(caught.value)) is not force
        assert not (mountpoint / "out").exists()  # nothing was written to the medium
    finally:
        subprocess.run(("umount", str(mountpoint)), check=True)
    assert kinds(store, job.job_id).count("image.refused") == 2
    assert store.get(job.job_id).medium is None  # a refused device is not recorded as the medium
    assert "image.started" not in kinds(store, job.job_id)


def test_a_mounted_device_is_imaged_only_with_the_explicit_flag(tmp_path, make_loop, state):
    store, job, state_dir = state
    backing = tmp_path / "medium.img"
    backing.write_bytes(bytes(16 * MIB))
    subprocess.run(("mkfs.ext4", "-q", str(backing)), check=True)
    node = make_loop(backing)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    subprocess.run(("mount", "-o", "ro", node, str(mountpoint)), check=True)
    try:
        with pytest.raises(errors.RefusedError, match="use --force-system-device"):
            image_action.image(store, image_action.Request(job.job_id, node), who(state_dir))
        forced = image_action.Request(job.job_id, node, force_system=True)
        details = image_action.image(store, forced, who(state_dir))
    finally:
        subprocess.run(("umount", str(mountpoint)), check=True)
    assert details["sha256"] == hashlib.sha256(backing.read_bytes()).hexdigest()
    started = [e for e in store.events(job.job_id) if e.kind == "image.started"][-1]
    assert started.details["force_system_device"] is True
    assert any("mounted at" in reason for reason in started.details["system_reasons"])
    assert all("--idirect" in argv for argv in started.details["command_lines"])  # not the cache


def test_refuses_when_the_output_has_no_room_for_the_image(tmp_path, faulty_disk, state):
    store, job, state_dir = state
    disk = faulty_disk(size=16 * MIB)
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(small)), check=True)
    try:
        request = image_action.Request(job.job_id, disk.node, out_dir=small)
        with pytest.raises(errors.RefusedError, match="not enough free space"):
            image_action.image(store, request, who(state_dir))
    finally:
        subprocess.run(("umount", str(small)), check=True)


def test_refuses_a_different_medium_than_the_jobs(faulty_disk, state):
    store, job, state_dir = state
    first = faulty_disk(size=8 * MIB)
    image_action.image(store, image_action.Request(job.job_id, first.node), who(state_dir))
    other = faulty_disk(size=4 * MIB)
    with pytest.raises(errors.RefusedError, match="is not the medium of job"):
        image_action.image(store, image_action.Request(job.job_id, other.node), who(state_dir))


def test_refuses_an_image_path_that_links_to_a_device(faulty_disk, state):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    paths = imaging.ImagePaths.in_folder(job.folder, job.job_id)
    paths.image.symlink_to(disk.node)  # ddrescue would write the image onto the medium
    with pytest.raises(errors.RefusedError, match="is not a regular file"):
        image_action.image(store, image_action.Request(job.job_id, disk.node), who(state_dir))
    assert kinds(store, job.job_id)[-1] == "image.refused"


def test_a_second_run_on_the_same_job_is_refused_while_one_is_running(faulty_disk, state):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    paths = imaging.ImagePaths.in_folder(job.folder, job.job_id)
    refused = pytest.raises(errors.RefusedError, match="another media image run")
    with image_run.exclusive(paths), refused:  # the lock a running `media image` holds
        image_action.image(store, image_action.Request(job.job_id, disk.node), who(state_dir))
    assert "image.started" not in kinds(store, job.job_id)


def _cli(state_dir, *arguments, **popen) -> subprocess.Popen:
    environment = {
        **os.environ,
        "BACKUPCTL_STATE_DIR": str(state_dir),
        "BACKUPCTL_CONFIG": "/nonexistent",
    }
    return subprocess.Popen(
        (str(BACKUPCTL), *arguments), env=environment, cwd=ROOT, text=True, **popen
    )


def _wait_for_progress(mapfile: pathlib.Path, process: subprocess.Popen, *, rescued: int) -> None:
    def rescued_enough() -> bool:
        assert process.poll() is None, "imaging ended before it made progress"
        current = image_hash.read_mapfile(mapfile)
        return current is not None and current.totals().rescued >= rescued

    wait_until(rescued_enough, timeout=60, what=f"{rescued} bytes rescued")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_interrupted_run_resumes_without_rereading_rescued_areas(faulty_disk, state, stop):
    store, job, state_dir = state
    # Each 64 KiB read after the first 2 MiB takes 15 ms: the whole copy would take about 3.5 s.
    disk = faulty_disk(
        size=16 * MIB, bad=(Region(12 * MIB, 4096),), slow=(Region(2 * MIB, 14 * MIB, 0.015),)
    )
    mapfile = state_dir / "jobs" / job.job_id / f"{job.job_id}.map"
    arguments = ("media", "image", disk.node, "--job", job.job_id, "--direct", "--json")
    first = _cli(state_dir, *arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_progress(mapfile, first, rescued=3 * MIB)
    first.send_signal(stop)
    stdout, stderr = first.communicate(timeout=60)
    assert first.returncode == (130 if stop == signal.SIGINT else -signal.SIGKILL), stderr
    # After SIGKILL, ddrescue gets SIGTERM from the kernel (pdeathsig), saves its map and exits.
    wait_until(
        lambda: not processes_with_argument(str(mapfile)),
        timeout=30,
        what="ddrescue to save its mapfile and exit",
    )
    interrupted = read_map(mapfile)
    rescued_blocks = [
        b for b in interrupted.blocks if b.status is mapfile_module.BlockStatus.FINISHED
    ]
    assert 0 < interrupted.totals().rescued < 16 * MIB - 4096
    if stop == signal.SIGINT:
        assert "image.interrupted" in kinds(store, job.job_id)
        assert any(
            json.loads(line)["event"] == "image-progress"
            for line in stderr.splitlines()
            if line.startswith("{")
        )
    disk.clear_reads()
    second = _cli(state_dir, *arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr
    # udev may probe the device meanwhile (blkid: buffered 4 KiB page reads, e.g. when another
    # process runs `udevadm trigger`); ddrescue --idirect reads 64 KiB clusters or 512 B sectors.
    reads = [(offset, length) for offset, length in disk.reads() if length != 4096]
    assert overlaps(reads, rescued_blocks) == []
    # What is read is what was left, plus the failed 64 KiB cluster around the bad sector read
    # again sector by sector (trim, scrape, one retry).
    left = 16 * MIB - interrupted.totals().rescued
    assert left < sum(length for _, length in reads) <= left + 2 * 65536
    result = json.loads(stdout)
    original = bytearray(disk.backing.read_bytes())
    original[12 * MIB : 12 * MIB + 4096] = bytes(4096)
    assert result["sha256"] == hashlib.sha256(original).hexdigest()
    assert result["totals"]["bad_area_list"] == [[12 * MIB, 4096]]
    assert blockdev.get_read_only(disk.node) is False  # restored, even after a SIGKILL
    started = [e for e in store.events(job.job_id) if e.kind == "image.started"]
    assert [e.details["resume"] for e in started] == [False, True]


def test_verify_passes_then_detects_a_changed_image(faulty_disk, state):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    details = image_action.image(store, image_action.Request(job.job_id, disk.node), who(state_dir))
    assert image_action.verify(store, job.job_id, who(state_dir))["match"] is True
    with open(details["paths"]["image"], "r+b") as image_file:
        image_file.seek(MIB)
        byte = image_file.read(1)
        image_file.seek(MIB)
        image_file.write(bytes([byte[0] ^ 0xFF]))
    verified = _cli(
        state_dir, "media", "verify", job.job_id, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, stderr = verified.communicate(timeout=60)
    assert verified.returncode == imaging.ImageMismatchError.exit_code
    assert "does not match" in stderr and "Traceback" not in stderr
    last = store.events(job.job_id)[-1]
    assert last.kind == "image.verified" and last.details["match"] is False


def test_damaged_mapfile_stops_with_its_line_number_not_a_traceback(faulty_disk, state):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    details = image_action.image(store, image_action.Request(job.job_id, disk.node), who(state_dir))
    with open(details["paths"]["mapfile"], "w") as mapfile:  # the run's own mapfile, damaged
        mapfile.write("0 ? 1\n0 0x100000 +\n0x200000 0x100 ?\n")
    arguments = ("media", "image", disk.node, "--job", job.job_id)
    process = _cli(state_dir, *arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "mapfile line 3" in stderr and "Traceback" not in stderr
    with io.StringIO(stderr) as lines:
        assert lines.readline().startswith("backupctl: error:")


def test_a_mapfile_backupctl_did_not_write_is_refused(faulty_disk, state):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    (job.folder / f"{job.job_id}.map").write_text("0 + 1\n0 0x400000 +\n")  # "all rescued"
    with pytest.raises(errors.RefusedError, match="did not create") as raised:
        image_action.image(store, image_action.Request(job.job_id, disk.node), who(state_dir))
    assert raised.value.exit_code == 4 and kinds(store, job.job_id)[-1] == "image.refused"
