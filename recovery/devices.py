"""Plain descriptions of block devices and the pure decisions about them.

Nothing here talks to udev: ``recovery/udev_source.py`` turns udev records into these frozen
values, and tests build them directly. Two decisions live here, each a pure function that
returns its reasons: which kind of medium a device is, and whether it is a system device
(one the workshop must never image by accident and never write).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping

KINDS = (
    "hdd",
    "ssd",
    "nvme",
    "usb-stick",
    "usb-disk",
    "sd-card",
    "optical",
    "loop",
    "tape",
    "virtual",
)


@dataclasses.dataclass(frozen=True)
class Partition:
    node: str
    number: int
    size_bytes: int
    filesystem: str | None
    label: str | None
    mountpoints: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class BlockDevice:
    node: str
    kind: str
    bus: str | None
    vendor: str | None
    model: str | None
    serial: str | None
    size_bytes: int
    logical_sector_size: int
    physical_sector_size: int
    removable: bool
    read_only: bool
    filesystem: str | None
    mountpoints: tuple[str, ...]
    partitions: tuple[Partition, ...]
    is_system: bool
    system_reasons: tuple[str, ...]

    def to_dict(self) -> dict:
        """Return a JSON-ready dict (tuples become lists)."""
        result = dataclasses.asdict(self)
        result["mountpoints"] = list(self.mountpoints)
        result["system_reasons"] = list(self.system_reasons)
        result["partitions"] = [
            {**dataclasses.asdict(partition), "mountpoints": list(partition.mountpoints)}
            for partition in self.partitions
        ]
        return result

    @property
    def all_mountpoints(self) -> tuple[str, ...]:
        """Return the mount points of the device and of all its partitions."""
        nested = tuple(point for partition in self.partitions for point in partition.mountpoints)
        return self.mountpoints + nested


def _flag(properties: Mapping[str, str], key: str) -> bool:
    return properties.get(key, "") in ("1", "true", "yes")


# The kind rules, tried in order: the first whose predicate holds names the kind.
# Each predicate receives (name, subsystem, properties, removable, rotational).
_Predicate = Callable[[str, str, Mapping[str, str], bool, bool], bool]
KIND_RULES: tuple[tuple[str, _Predicate], ...] = (
    (
        "tape",
        lambda name, sub, props, rem, rot: sub == "scsi_tape" or props.get("ID_TYPE") == "tape",
    ),
    ("loop", lambda name, sub, props, rem, rot: name.startswith("loop")),
    (
        "virtual",
        lambda name, sub, props, rem, rot: name.startswith(("zram", "ram", "dm-", "md", "nbd")),
    ),
    (
        "optical",
        lambda name, sub, props, rem, rot: name.startswith("sr") or _flag(props, "ID_CDROM"),
    ),
    (
        "nvme",
        lambda name, sub, props, rem, rot: name.startswith("nvme") or props.get("ID_BUS") == "nvme",
    ),
    (
        "sd-card",
        lambda name, sub, props, rem, rot: (
            name.startswith("mmcblk")
            or _flag(props, "ID_DRIVE_FLASH_SD")
            or _flag(props, "ID_DRIVE_MEDIA_FLASH_SD")
        ),
    ),
    ("usb-stick", lambda name, sub, props, rem, rot: props.get("ID_BUS") == "usb" and rem),
    ("usb-disk", lambda name, sub, props, rem, rot: props.get("ID_BUS") == "usb"),
    ("hdd", lambda name, sub, props, rem, rot: rot),
    ("ssd", lambda name, sub, props, rem, rot: True),
)


def classify_kind(
    *,
    name: str,
    subsystem: str = "block",
    properties: Mapping[str, str] | None = None,
    removable: bool = False,
    rotational: bool = False,
) -> str:
    """Given a kernel name ("sdb"), subsystem, udev properties and two sysfs flags, return the kind.

    A USB mass-storage device that reports itself removable is a stick; one that does not is a
    disk in an enclosure. A card reader that says it holds an SD card is an sd-card whatever its
    bus.
    """
    props = properties or {}
    for kind, predicate in KIND_RULES:
        if predicate(name, subsystem, props, removable, rotational):
            return kind
    return "ssd"  # unreachable: the last rule always holds


def is_system_device(
    *,
    node: str,
    mountpoints: Collection[str] = (),
    partitions: Collection[Partition] = (),
    swap_nodes: Collection[str] = (),
    state_nodes: Mapping[str, str] | None = None,
    holders: Collection[str] = (),
) -> tuple[bool, tuple[str, ...]]:
    """Given a device, its partitions and what the host uses, return (is_system, reasons).

    A device is a system device when it or one of its partitions is mounted, is used as swap,
    holds the toolkit's own state (``state_nodes`` maps a device or partition node to the state
    path on it), or is held by another device (device-mapper, RAID, LVM). Each reason names the
    node and the use, e.g. "partition /dev/vda1 mounted at /".
    """
    state = state_nodes or {}
    reasons: list[str] = []
    members = [(f"device {node}", node, tuple(mountpoints))]
    members += [(f"partition {p.node}", p.node, p.mountpoints) for p in partitions]
    for label, member, points in members:
        reasons += [f"{label} mounted at {point}" for point in points]
        if member in swap_nodes:
            reasons.append(f"{label} is used as swap")
        if member in state:
            reasons.append(f"{label} holds the toolkit's state ({state[member]})")
    reasons += [
        f"device {node} is in use by {holder} (device-mapper, RAID or LVM)" for holder in holders
    ]
    return bool(reasons), tuple(reasons)


def describe_size(size_bytes: int) -> str:
    """Given a size in bytes, return it in binary units, e.g. "16.0 MiB"."""
    value = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size_bytes} B"


IDENTITY_MAX = 128  # characters of a vendor, model or serial kept from udev or sysfs


def identity_text(value: str | None, *, serial: bool = False) -> str | None:
    """Given a vendor, model or serial as udev or sysfs report it (the device's own firmware
    chooses it), return it bounded to 128 characters; a serial keeps only printable ASCII
    without spaces, anything else written as \\xNN, so it stays one stable identifier."""
    if value is None:
        return None
    if serial:
        value = "".join(
            character
            if "!" <= character <= "~" and character != "\\"
            else f"\\x{ord(character):02x}"
            for character in value
        )
    return value[:IDENTITY_MAX] or None


def tape_drive(
    *,
    node: str,
    properties: Mapping[str, str],
    sysfs_vendor: str | None = None,
    sysfs_model: str | None = None,
) -> BlockDevice:
    """Given a tape drive's node (/dev/nstN), its udev properties (scsi_id's ID_VENDOR,
    ID_MODEL, ID_SERIAL_SHORT or ID_SCSI_SERIAL, ID_BUS) and the SCSI inquiry strings from sysfs,
    return its description. A tape drive has no size or sectors, is removable media, and is
    never a system device: nothing mounts or swaps on it."""
    vendor = properties.get("ID_VENDOR") or sysfs_vendor
    model = properties.get("ID_MODEL") or sysfs_model
    serial = properties.get("ID_SERIAL_SHORT") or properties.get("ID_SCSI_SERIAL")
    return BlockDevice(
        node=node,
        kind="tape",
        bus=properties.get("ID_BUS") or "scsi",
        vendor=identity_text(vendor.replace("_", " ").strip() if vendor else None),
        model=identity_text(model.replace("_", " ").strip() if model else None),
        serial=identity_text(serial, serial=True),
        size_bytes=0,
        logical_sector_size=0,
        physical_sector_size=0,
        removable=True,
        read_only=False,
        filesystem=None,
        mountpoints=(),
        partitions=(),
        is_system=False,
        system_reasons=(),
    )
