"""Device detection with loop devices and a real systemd-udevd."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from recovery import errors, udev_source
from recovery.jobs import JobStore
from tests.fixtures import loopdev

pytestmark = [pytest.mark.root, loopdev.needs_loop]
BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
WHO = {"actor": "tech", "host": "bench"}


@pytest.fixture(scope="module")
def partitioned_image(tmp_path_factory, udevd) -> pathlib.Path:
    return loopdev.build_partitioned_image(tmp_path_factory.mktemp("media") / "disk.img")


@pytest.fixture
def partitioned_loop(partitioned_image, make_loop, udevd) -> str:
    node = make_loop(partitioned_image, partscan=True)
    subprocess.run(("udevadm", "settle", "--timeout=20"), check=False)
    return node


def mount(*argv: str) -> None:
    result = subprocess.run(
        ("mount", *argv), check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"mount {' '.join(argv)}: {result.stderr}"


def run_cli(state_dir: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "BACKUPCTL_STATE_DIR": str(state_dir),
        "BACKUPCTL_CONFIG": str(state_dir / "absent.toml"),
    }
    return subprocess.run(
        (str(BACKUPCTL), *args), check=False, capture_output=True, text=True, env=env, timeout=60
    )


def test_partitioned_loop_is_described_with_filesystems(partitioned_loop):
    device = udev_source.describe(partitioned_loop)
    assert (device.kind, device.bus, device.size_bytes) == ("loop", "virtual", 32 * 1024 * 1024)
    assert (device.logical_sector_size, device.removable, device.read_only) == (512, False, False)
    assert [(p.node, p.number, p.filesystem, p.label) for p in device.partitions] == [
        (f"{partitioned_loop}p1", 1, "ext4", "data"),
        (f"{partitioned_loop}p2", 2, "vfat", "PHOTOS"),
    ]
    assert device.partitions[0].size_bytes == 12 * 1024 * 1024
    assert (device.is_system, device.system_reasons) == (False, ())


def test_media_list_json_includes_the_loop_device(partitioned_loop, tmp_path):
    result = run_cli(tmp_path, "media", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = {item["node"]: item for item in json.loads(result.stdout)}
    assert listed[partitioned_loop]["kind"] == "loop"
    assert [p["filesystem"] for p in listed[partitioned_loop]["partitions"]] == ["ext4", "vfat"]


def test_media_list_human_marks_system_devices(partitioned_loop, tmp_path):
    result = run_cli(tmp_path, "media", "list")
    assert result.returncode == 0, result.stderr
    assert partitioned_loop in result.stdout and "PHOTOS" in result.stdout
    lines = {
        line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("/dev/")
    }
    assert "SYSTEM" not in lines[partitioned_loop]
    system = [d.node for d in udev_source.list_devices(state_paths=(str(tmp_path),)) if d.is_system]
    assert system, "the disk holding the state directory is a system device"
    assert all("SYSTEM (" in lines[node] for node in system)


def test_device_holding_root_is_a_system_device():
    devices = udev_source.list_devices()
    root = [device for device in devices if "/" in device.all_mountpoints]
    if not root:
        pytest.skip("the root filesystem is not on a visible block device here")
    assert root[0].is_system and any("mounted at /" in reason for reason in root[0].system_reasons)


def test_sector_size_and_read_only_are_reported(tmp_path, make_loop, udevd):
    node = make_loop(
        loopdev.build_blank_image(tmp_path / "ro.img", size_mib=4), read_only=True, sector_size=4096
    )
    device = udev_source.describe(node)
    assert (device.logical_sector_size, device.read_only, device.size_bytes) == (
        4096,
        True,
        4 * 1024 * 1024,
    )


def test_mounted_partition_makes_a_system_device_and_attach_is_refused(partitioned_loop, tmp_path):
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    mount("-o", "ro", f"{partitioned_loop}p1", str(mountpoint))
    try:
        device = udev_source.describe(partitioned_loop)
        assert device.is_system
        assert device.system_reasons == (f"partition {partitioned_loop}p1 mounted at {mountpoint}",)
        store = JobStore(tmp_path / "state.db", tmp_path / "jobs")
        job_id = store.open_job(customer="A", consent_ref="C", ticket=None, note=None, **WHO).job_id
        refused = run_cli(tmp_path, "job", "attach", job_id, partitioned_loop)
        assert refused.returncode == 4 and "mounted at" in refused.stderr
        assert store.get(job_id).medium is None
        insisted = run_cli(
            tmp_path, "job", "attach", job_id, partitioned_loop, "--allow-system-device"
        )
        assert insisted.returncode == 0, insisted.stderr
        details = store.events(job_id)[-1].details
        assert details["allowed_system_device"] is True
        assert details["system_reasons"] == list(device.system_reasons)
    finally:
        subprocess.run(("umount", str(mountpoint)), check=True)


def test_device_holding_the_state_is_a_system_device(partitioned_loop, tmp_path):
    mountpoint = tmp_path / "state-fs"
    mountpoint.mkdir()
    mount(f"{partitioned_loop}p1", str(mountpoint))
    try:
        state_dir = str(mountpoint / "backupctl")  # not created yet: its filesystem still counts
        device = udev_source.describe(partitioned_loop, state_paths=(state_dir,))
        assert (
            f"partition {partitioned_loop}p1 holds the toolkit's state ({state_dir})"
            in device.system_reasons
        )
    finally:
        subprocess.run(("umount", str(mountpoint)), check=True)


def test_describe_a_partition_names_the_whole_device(partitioned_loop):
    with pytest.raises(
        errors.DeviceNotFound, match=f"name the whole device \\({partitioned_loop}\\)"
    ):
        udev_source.describe(f"{partitioned_loop}p1")


def test_describe_unknown_node(tmp_path):
    with pytest.raises(errors.DeviceNotFound):
        udev_source.describe(str(tmp_path / "nothing"))
