"""The only module that talks to pyudev: udev records in, plain ``BlockDevice`` values out.

Listing reads the udev database and sysfs; ``watch`` follows udev's netlink events. What the
host uses (mounts, swap, the toolkit's state) comes from /proc, and the pure decisions in
``recovery/devices.py`` turn it all into kinds and system-device reasons.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import re
import stat
import time
from collections.abc import Callable, Iterator

import pyudev

from recovery import devices, errors, mounts
from recovery.devices import BlockDevice, Partition

logger = logging.getLogger(__name__)

_TAPE_NAME = re.compile(r"^nst\d+$")  # the non-rewinding node: not st0, nst0l, nst0m, nst0a
_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


@dataclasses.dataclass(frozen=True)
class HostUsage:
    """What the host is using, keyed by device number (major, minor)."""

    mountpoints: dict[tuple[int, int], tuple[str, ...]]
    swap: frozenset[tuple[int, int]]
    state: dict[tuple[int, int], str]  # device number -> the state path it holds


def _devnum(number: int) -> tuple[int, int]:
    return os.major(number), os.minor(number)


def _block_devnum(source: str) -> tuple[int, int] | None:
    try:
        info = os.stat(source)
    except OSError:
        return None
    return _devnum(info.st_rdev) if stat.S_ISBLK(info.st_mode) else None


def _mount_devnum(mount: mounts.Mount) -> tuple[int, int] | None:
    """Return the block device behind a mount; btrfs and friends report an anonymous major 0."""
    if mount.major != 0:
        return mount.major, mount.minor
    return _block_devnum(mount.source) if mount.source.startswith("/dev/") else None


def host_usage(state_paths: tuple[str, ...] = ()) -> HostUsage:
    """Return the mounts, swap and state locations of this host, by device number."""
    with open("/proc/self/mountinfo", encoding="utf-8") as file:
        mount_table = mounts.parse_mountinfo(file)
    points: dict[tuple[int, int], tuple[str, ...]] = {}
    for mount in mount_table:
        number = _mount_devnum(mount)
        if number and mount.mountpoint not in points.get(number, ()):
            points[number] = points.get(number, ()) + (mount.mountpoint,)
    with open("/proc/swaps", encoding="utf-8") as file:
        swap_names = mounts.parse_swaps(file)
    swap = set()
    for name in swap_names:
        swap.add(
            _block_devnum(name) or (_devnum(os.stat(name).st_dev) if os.path.exists(name) else None)
        )
    state = {}
    for path in state_paths:
        number = _state_devnum(pathlib.Path(path).absolute(), mount_table)
        if number:
            state[number] = str(path)
    return HostUsage(points, frozenset(swap - {None}), state)


def _state_devnum(
    path: pathlib.Path, mount_table: tuple[mounts.Mount, ...]
) -> tuple[int, int] | None:
    """Given a state path (perhaps not created yet), return the block device that will hold it."""
    existing = next((candidate for candidate in (path, *path.parents) if candidate.exists()), path)
    number = _devnum(os.stat(existing).st_dev)
    if number[0] != 0:
        return number
    mount = mounts.mount_containing(str(existing), mount_table)
    return _mount_devnum(mount) if mount else None


def _decode(value: str | None) -> str | None:
    """Given a udev *_ENC value, return it decoded and stripped; None when empty."""
    if value is None:
        return None
    text = _HEX_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), value).strip()
    return text or None


def _sysfs(device: pyudev.Device, name: str) -> str | None:
    try:
        return (pathlib.Path(device.sys_path) / name).read_text(
            encoding="utf-8", errors="replace"
        ).strip() or None
    except OSError:
        return None


def _sysfs_int(device: pyudev.Device, name: str, default: int = 0) -> int:
    value = _sysfs(device, name)
    return int(value) if value and value.lstrip("-").isdigit() else default


def _bus(device: pyudev.Device) -> str | None:
    name = device.sys_name
    known = (
        ("nvme", "nvme"),
        ("mmcblk", "mmc"),
        ("loop", "virtual"),
        ("zram", "virtual"),
        ("vd", "virtio"),
    )
    return device.properties.get("ID_BUS") or next(
        (bus for prefix, bus in known if name.startswith(prefix)), None
    )


def _identity(device: pyudev.Device) -> tuple[str | None, str | None, str | None]:
    """Return (vendor, model, serial) from udev, falling back to sysfs."""
    props = device.properties
    sysfs_vendor = _sysfs(device, "device/vendor")  # virtio and nvme give a PCI id ("0x1af4") here
    sysfs_vendor = None if sysfs_vendor and sysfs_vendor.startswith("0x") else sysfs_vendor
    vendor = _decode(props.get("ID_VENDOR_ENC")) or props.get("ID_VENDOR") or sysfs_vendor
    model = (
        _decode(props.get("ID_MODEL_ENC"))
        or props.get("ID_MODEL")
        or _sysfs(device, "device/model")
        or _sysfs(device, "device/name")
    )
    serial = props.get("ID_SERIAL_SHORT") or _sysfs(device, "device/serial")
    return (
        devices.identity_text(vendor),
        devices.identity_text(model),
        devices.identity_text(serial, serial=True),
    )


def _partition(device: pyudev.Device, usage: HostUsage) -> Partition:
    return Partition(
        node=device.device_node,
        number=_sysfs_int(device, "partition"),
        size_bytes=_sysfs_int(device, "size") * 512,
        filesystem=device.properties.get("ID_FS_TYPE") or None,
        label=_decode(device.properties.get("ID_FS_LABEL_ENC"))
        or device.properties.get("ID_FS_LABEL"),
        mountpoints=usage.mountpoints.get(_devnum(device.device_number), ()),
    )


def _holders(device: pyudev.Device) -> tuple[str, ...]:
    try:
        return tuple(sorted(os.listdir(pathlib.Path(device.sys_path) / "holders")))
    except OSError:
        return ()


def _disk(device: pyudev.Device, usage: HostUsage) -> BlockDevice:
    """Given a pyudev disk (or tape drive) and the host's usage, return its plain description."""
    if device.subsystem == "scsi_tape":
        return devices.tape_drive(
            node=device.device_node,
            properties=dict(device.properties),
            sysfs_vendor=_sysfs(device, "device/vendor"),
            sysfs_model=_sysfs(device, "device/model"),
        )
    children = [
        child for child in device.children if child.device_type == "partition" and child.device_node
    ]
    partitions = tuple(
        sorted((_partition(child, usage) for child in children), key=lambda p: p.number)
    )
    number = _devnum(device.device_number)
    removable = _sysfs(device, "removable") == "1" or device.subsystem == "scsi_tape"
    kind = devices.classify_kind(
        name=device.sys_name,
        subsystem=device.subsystem,
        properties=dict(device.properties),
        removable=removable,
        rotational=_sysfs(device, "queue/rotational") == "1",
    )
    state_nodes = {
        node: usage.state[_devnum(item.device_number)]
        for node, item in [(device.device_node, device)] + [(c.device_node, c) for c in children]
        if _devnum(item.device_number) in usage.state
    }
    swap_nodes = [
        item.device_node
        for item in [device, *children]
        if _devnum(item.device_number) in usage.swap
    ]
    holders = _holders(device) + tuple(holder for child in children for holder in _holders(child))
    is_system, reasons = devices.is_system_device(
        node=device.device_node,
        mountpoints=usage.mountpoints.get(number, ()),
        partitions=partitions,
        swap_nodes=swap_nodes,
        state_nodes=state_nodes,
        holders=holders,
    )
    vendor, model, serial = _identity(device)
    return BlockDevice(
        node=device.device_node,
        kind=kind,
        bus=_bus(device),
        vendor=vendor,
        model=model,
        serial=serial,
        size_bytes=_sysfs_int(device, "size") * 512,
        logical_sector_size=_sysfs_int(
            device, "queue/logical_block_size", 512 if device.subsystem == "block" else 0
        ),
        physical_sector_size=_sysfs_int(
            device, "queue/physical_block_size", 512 if device.subsystem == "block" else 0
        ),
        removable=removable,
        read_only=_sysfs(device, "ro") == "1",
        filesystem=device.properties.get("ID_FS_TYPE") or None,
        mountpoints=usage.mountpoints.get(number, ()),
        partitions=partitions,
        is_system=is_system,
        system_reasons=reasons,
    )


def _is_listed(device: pyudev.Device) -> bool:
    if device.subsystem == "scsi_tape":
        return bool(_TAPE_NAME.match(device.sys_name)) and bool(device.device_node)
    return device.device_type == "disk" and bool(device.device_node)


def _is_worth_showing(device: BlockDevice) -> bool:
    """An empty card reader is worth showing; an unattached loop or unused zram is not."""
    return device.size_bytes > 0 or device.removable or device.kind == "tape"


def list_devices(
    *, state_paths: tuple[str, ...] = (), include_empty: bool = False
) -> list[BlockDevice]:
    """Return every disk and tape drive, sorted by node; skip empty fixed devices unless asked."""
    context = pyudev.Context()
    usage = host_usage(state_paths)
    found = [
        _disk(device, usage)
        for subsystem in ("block", "scsi_tape")
        for device in context.list_devices(subsystem=subsystem)
        if _is_listed(device)
    ]
    return sorted(
        (device for device in found if include_empty or _is_worth_showing(device)),
        key=lambda device: device.node,
    )


def _find(context: pyudev.Context, node: str) -> pyudev.Device:
    try:
        device = pyudev.Devices.from_device_file(context, node)
    except (pyudev.DeviceNotFoundError, OSError, ValueError) as error:
        raise errors.DeviceNotFound(
            f"no block device or tape drive {node!r} (see: backupctl media list)"
        ) from error
    if device.device_type == "partition":
        raise errors.DeviceNotFound(
            f"{node} is a partition; name the whole device ({device.parent.device_node})"
        )
    if device.subsystem == "scsi_tape" and not _is_listed(device):
        raise errors.DeviceNotFound(
            f"{node} is not the tape drive's non-rewinding node; use /dev/nst<N> (media list)"
        )
    if not _is_listed(device):
        raise errors.DeviceNotFound(f"{node} is not a disk or a tape drive")
    return device


def describe(node: str, *, state_paths: tuple[str, ...] = ()) -> BlockDevice:
    """Given a device node (or a /dev/disk/by-* link), return its description; raise
    DeviceNotFound."""
    context = pyudev.Context()
    return _disk(_find(context, os.path.realpath(node)), host_usage(state_paths))


APPEARED, REMOVED, CHANGED = "appeared", "removed", "changed"


def _has_medium(device: BlockDevice) -> bool:
    return device.size_bytes > 0 or device.kind == "tape"


def _event_node(device: pyudev.Device) -> str | None:
    """Given a udev event's device, return the node of the disk or tape drive it concerns."""
    if device.subsystem == "scsi_tape" or device.device_type == "disk":
        return device.device_node if _is_listed(device) else None
    if device.device_type == "partition":
        parent = device.find_parent("block", "disk")
        return parent.device_node if parent is not None else None
    return None


def _settled(
    context: pyudev.Context, node: str, known: dict[str, BlockDevice], state_paths: tuple[str, ...]
) -> Iterator[tuple[str, BlockDevice]]:
    """Given a node whose events have settled, yield what changed for the technician."""
    try:
        current: BlockDevice | None = _disk(_find(context, node), host_usage(state_paths))
    except errors.DeviceNotFound:
        current = None
    if current is None or not _has_medium(current):
        if node in known:
            yield REMOVED, known.pop(node)
        return
    previous = known.get(node)
    known[node] = current
    if previous is None:
        yield APPEARED, current
    elif previous != current:
        yield CHANGED, current


def watch(
    *,
    timeout: float | None = None,
    state_paths: tuple[str, ...] = (),
    settle: float = 0.5,
    on_ready: Callable[[], None] | None = None,
) -> Iterator[tuple[str, BlockDevice]]:
    """Yield (action, device) as media appear, change and disappear, until ``timeout`` seconds pass.

    Actions are "appeared" (a disk, a medium in a reader, an attached loop device), "changed"
    (its partitions or mounts changed) and "removed". A device is described once its udev events
    have been quiet for ``settle`` seconds, so its partitions and filesystems are known. Media
    present when the watch starts are not reported; ``on_ready`` is called once udev events are
    being received. Stop early by closing the iterator.
    """
    context = pyudev.Context()
    monitor = pyudev.Monitor.from_netlink(context)
    monitor.filter_by("block")
    monitor.filter_by("scsi_tape")
    monitor.start()
    known = {
        device.node: device
        for device in list_devices(state_paths=state_paths)
        if _has_medium(device)
    }
    pending: dict[str, float] = {}  # node -> monotonic time of its last event
    deadline = None if timeout is None else time.monotonic() + timeout
    if on_ready is not None:
        on_ready()
    while True:
        now = time.monotonic()
        for node in [node for node, last in pending.items() if now - last >= settle]:
            del pending[node]
            yield from _settled(context, node, known, state_paths)
        if deadline is not None and now >= deadline:
            return
        waits = [last + settle - now for last in pending.values()]
        waits += [deadline - now] if deadline is not None else []
        event = monitor.poll(timeout=max(0.0, min(waits)) if waits else None)
        node = _event_node(event) if event is not None else None
        if node is None:
            continue
        logger.debug("udev %s %s (for %s)", event.action, event.device_node, node)
        if event.action == "remove" and event.device_node == node and node in known:
            pending.pop(node, None)
            yield REMOVED, known.pop(node)
            continue
        pending[node] = time.monotonic()
