"""Tape drives as `media list` and `media watch` describe them, from udev properties (as scsi_id
exports them for /dev/nstN) and sysfs inquiry strings; `media image` sends tapes to `tape image`."""

from __future__ import annotations

import pytest

from backupctl.actions import image as image_action
from recovery import devices, errors, udev_source
from recovery.jobs import JobStore

# What udev's 60-persistent-storage-tape.rules import from scsi_id for an LTO drive.
LTO = {
    "ID_VENDOR": "HP",
    "ID_MODEL": "Ultrium_5-SCSI",
    "ID_SERIAL": "HU1234ABCD",
    "ID_SERIAL_SHORT": "HU1234ABCD",
    "ID_TYPE": "tape",
    "ID_BUS": "scsi",
}


@pytest.mark.parametrize(
    ("properties", "sysfs", "identity"),
    [
        (LTO, (None, None), ("HP", "Ultrium 5-SCSI", "HU1234ABCD")),
        ({"ID_SCSI_SERIAL": "10WT0123"}, ("SONY", "SDX-700C"), ("SONY", "SDX-700C", "10WT0123")),
        ({}, ("HP      ", "C5683A  "), ("HP", "C5683A", None)),
        ({"ID_SERIAL_SHORT": "A B\x1b"}, (None, None), (None, None, "A\\x20B\\x1b")),
    ],
)
def test_tape_drive_identity_from_udev_and_sysfs(properties, sysfs, identity):
    drive = devices.tape_drive(
        node="/dev/nst0", properties=properties, sysfs_vendor=sysfs[0], sysfs_model=sysfs[1]
    )
    assert (drive.vendor, drive.model, drive.serial) == identity
    assert (drive.node, drive.kind, drive.removable, drive.is_system) == (
        "/dev/nst0",
        "tape",
        True,
        False,
    )
    assert drive.size_bytes == 0 and drive.partitions == ()


def test_only_the_non_rewinding_node_of_mode_zero_is_listed():
    names = ["st0", "nst0", "st0l", "nst0l", "nst0m", "nst0a", "nst12"]
    assert [name for name in names if udev_source._TAPE_NAME.match(name)] == ["nst0", "nst12"]


def test_media_image_of_a_tape_drive_points_to_tape_image(tmp_path, monkeypatch):
    # udev is replaced here: no tape drive exists on this machine (no SCSI in the kernel)
    drive = devices.tape_drive(node="/dev/nst0", properties=LTO)
    monkeypatch.setattr(udev_source, "describe", lambda node, state_paths=(): drive)
    store = JobStore(tmp_path / "state.db", tmp_path / "jobs")
    job = store.open_job(
        customer="C", consent_ref="K", ticket="T", note=None, actor="tech", host="bench"
    )
    request = image_action.Request(job_id=job.job_id, device="/dev/nst0")
    with pytest.raises(
        errors.InvalidRequest, match=f"backupctl tape image /dev/nst0 --job {job.job_id}"
    ):
        image_action.plan(store, request, image_action.Who("tech", "bench"))


def test_media_list_line_of_a_tape_drive_names_the_tape_commands():
    from backupctl.cli import media_commands

    line = media_commands.device_line(devices.tape_drive(node="/dev/nst0", properties=LTO))
    assert line.startswith("/dev/nst0      tape      scsi")
    assert "HP Ultrium 5-SCSI  serial HU1234ABCD  (backupctl tape info/image)" in line
    assert "sectors" not in line and "0 B" not in line
