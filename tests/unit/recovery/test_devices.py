"""Kind classification and system-device decisions, from plain descriptions (table tests)."""

from __future__ import annotations

import json

import pytest

from recovery import devices
from recovery.devices import BlockDevice, Partition

USB = {"ID_BUS": "usb"}


@pytest.mark.parametrize(
    ("name", "subsystem", "properties", "removable", "rotational", "kind"),
    [
        ("sda", "block", {"ID_BUS": "ata"}, False, True, "hdd"),
        ("sda", "block", {"ID_BUS": "ata"}, False, False, "ssd"),
        ("nvme0n1", "block", {}, False, False, "nvme"),
        ("sdb", "block", USB, True, False, "usb-stick"),
        ("sdb", "block", USB, False, True, "usb-disk"),
        ("sdc", "block", {**USB, "ID_DRIVE_FLASH_SD": "1"}, True, False, "sd-card"),
        ("sdc", "block", {**USB, "ID_DRIVE_MEDIA_FLASH_SD": "1"}, True, False, "sd-card"),
        ("mmcblk0", "block", {}, False, False, "sd-card"),
        ("sr0", "block", {"ID_CDROM": "1"}, True, False, "optical"),
        ("sdd", "block", {"ID_CDROM": "1", "ID_BUS": "usb"}, True, False, "optical"),
        ("loop3", "block", {}, False, False, "loop"),
        ("st0", "scsi_tape", {}, True, False, "tape"),
        ("zram0", "block", {}, False, False, "virtual"),
        ("dm-0", "block", {}, False, False, "virtual"),
        ("vda", "block", {}, False, True, "hdd"),
    ],
)
def test_classify_kind(name, subsystem, properties, removable, rotational, kind):
    assert (
        devices.classify_kind(
            name=name,
            subsystem=subsystem,
            properties=properties,
            removable=removable,
            rotational=rotational,
        )
        == kind
    )


def test_every_rule_names_a_known_kind():
    assert {kind for kind, _ in devices.KIND_RULES} <= set(devices.KINDS)


def _partition(node: str, *mountpoints: str, number: int = 1) -> Partition:
    return Partition(
        node=node,
        number=number,
        size_bytes=1024,
        filesystem="ext4",
        label=None,
        mountpoints=tuple(mountpoints),
    )


@pytest.mark.parametrize(
    ("arguments", "expected_reasons"),
    [
        ({"node": "/dev/sdb"}, ()),
        ({"node": "/dev/sdb", "partitions": (_partition("/dev/sdb1"),)}, ()),
        ({"node": "/dev/vda", "mountpoints": ("/",)}, ("device /dev/vda mounted at /",)),
        (
            {"node": "/dev/sda", "partitions": (_partition("/dev/sda1", "/", "/home"),)},
            ("partition /dev/sda1 mounted at /", "partition /dev/sda1 mounted at /home"),
        ),
        (
            {
                "node": "/dev/sda",
                "partitions": (_partition("/dev/sda2", number=2),),
                "swap_nodes": {"/dev/sda2"},
            },
            ("partition /dev/sda2 is used as swap",),
        ),
        ({"node": "/dev/sdc", "swap_nodes": {"/dev/sdc"}}, ("device /dev/sdc is used as swap",)),
        (
            {
                "node": "/dev/sdb",
                "partitions": (_partition("/dev/sdb1"),),
                "state_nodes": {"/dev/sdb1": "/srv/state"},
            },
            ("partition /dev/sdb1 holds the toolkit's state (/srv/state)",),
        ),
        (
            {"node": "/dev/sdb", "holders": ("dm-0",)},
            ("device /dev/sdb is in use by dm-0 (device-mapper, RAID or LVM)",),
        ),
        (
            {
                "node": "/dev/sdb",
                "swap_nodes": {"/dev/sdc"},
                "state_nodes": {"/dev/vda": "/var/lib/backupctl"},
            },
            (),
        ),
    ],
)
def test_is_system_device(arguments, expected_reasons):
    is_system, reasons = devices.is_system_device(**arguments)
    assert reasons == expected_reasons
    assert is_system is bool(expected_reasons)


def _device(**changes) -> BlockDevice:
    values = {
        "node": "/dev/sdb",
        "kind": "usb-stick",
        "bus": "usb",
        "vendor": "Kingston",
        "model": "DataTraveler",
        "serial": "ABC123",
        "size_bytes": 8 * 1024**3,
        "logical_sector_size": 512,
        "physical_sector_size": 512,
        "removable": True,
        "read_only": False,
        "filesystem": None,
        "mountpoints": (),
        "partitions": (_partition("/dev/sdb1", "/media/stick"),),
        "is_system": True,
        "system_reasons": ("partition /dev/sdb1 mounted at /media/stick",),
    }
    return BlockDevice(**{**values, **changes})


def test_to_dict_is_json_ready_and_complete():
    as_dict = _device().to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["partitions"][0]["mountpoints"] == ["/media/stick"]
    assert as_dict["system_reasons"] == ["partition /dev/sdb1 mounted at /media/stick"]
    assert set(as_dict) >= {
        "node",
        "kind",
        "bus",
        "vendor",
        "model",
        "serial",
        "size_bytes",
        "logical_sector_size",
        "physical_sector_size",
        "removable",
        "read_only",
        "partitions",
        "mountpoints",
        "is_system",
    }


def test_all_mountpoints_includes_partitions():
    assert _device(mountpoints=("/mnt",)).all_mountpoints == ("/mnt", "/media/stick")


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (16 * 1024**2, "16.0 MiB"),
        (256 * 1024**3, "256.0 GiB"),
    ],
)
def test_describe_size(size, text):
    assert devices.describe_size(size) == text
