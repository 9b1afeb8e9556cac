"""Plan an imaging run: where the image goes, which ddrescue runs remain, and whether it is safe.

Decisions are pure functions that return their reasons; ``recovery/image_run.py`` executes a
plan. Refusals (exit code 4):

* the output directory lies on the source medium (same device number as the medium, one of
  its partitions or anything stacked on them, or under one of their mount points): writing
  the image would overwrite the evidence. No flag overrides this.
* the medium is a system device or mounted, unless ``force_system`` is given.
* the output file system has not enough free space for the rest of the image.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

from recovery import ddrescue, errors
from recovery import mapfile as mapfile_module
from recovery.devices import BlockDevice

MAPFILE_MARGIN = 1024 * 1024  # room for the mapfile and its .bak


@dataclasses.dataclass(frozen=True)
class ImagePaths:
    """The files of one job's image, all in the job's own 0700 folder (recovery/image_folder.py)."""

    image: pathlib.Path
    mapfile: pathlib.Path
    lock: pathlib.Path

    @classmethod
    def in_folder(cls, folder: pathlib.Path, name: str) -> ImagePaths:
        return cls(folder / f"{name}.img", folder / f"{name}.map", folder / f".{name}.lock")

    def to_dict(self) -> dict:
        return {"image": str(self.image), "mapfile": str(self.mapfile)}


@dataclasses.dataclass(frozen=True)
class ImagePlan:
    source: str
    paths: ImagePaths
    size_bytes: int
    options: ddrescue.RescueOptions
    phases: tuple[str, ...]
    resume: bool
    reasons: tuple[str, ...]  # why these phases

    def argvs(self, binary: str = ddrescue.DEFAULT_BINARY) -> tuple[tuple[str, ...], ...]:
        """Return the ddrescue argv of every phase of the plan, in order."""
        return tuple(
            ddrescue.phase_argv(
                phase,
                self.source,
                str(self.paths.image),
                str(self.paths.mapfile),
                options=self.options,
                binary=binary,
            )
            for phase in self.phases
        )


def output_on_source_reasons(
    device: BlockDevice,
    *,
    output_dir: pathlib.Path,
    output_number: tuple[int, int],
    stacked: frozenset,
) -> tuple[str, ...]:
    """Given the device, the output directory and device numbers, return why it lies on the
    source."""
    reasons = []
    if output_number in stacked:
        reasons.append(
            f"output directory {output_dir} is on device {output_number[0]}:{output_number[1]},"
            f" which is {device.node} or built on it"
        )
    resolved = os.path.realpath(output_dir)
    for point in device.all_mountpoints:
        if os.path.commonpath([resolved, os.path.realpath(point)]) == os.path.realpath(point):
            reasons.append(
                f"output directory {output_dir} is under {point}, mounted from {device.node}"
            )
    return tuple(reasons)


def system_reasons(device: BlockDevice, *, force_system: bool) -> tuple[str, ...]:
    """Return why the device may not be imaged without ``force_system`` (empty when it may)."""
    if force_system:
        return ()
    reasons = list(device.system_reasons) if device.is_system else []
    reasons += [
        f"{device.node} has a mounted file system at {point}"
        for point in device.all_mountpoints
        if not any(point in reason for reason in reasons)
    ]
    if reasons:
        reasons.append("use --force-system-device to image it anyway (read-only)")
    return tuple(reasons)


def space_reasons(
    *, size_bytes: int, existing_image_bytes: int, free_bytes: int
) -> tuple[str, ...]:
    """Given the medium size, the bytes of the image already there and the free space, say if
    short."""
    needed = max(0, size_bytes - existing_image_bytes) + MAPFILE_MARGIN
    if free_bytes >= needed:
        return ()
    return (f"not enough free space for the image: {needed} bytes needed, {free_bytes} free",)


def choose_phases(
    current: mapfile_module.Mapfile | None, *, retries: int
) -> tuple[tuple[str, ...], str]:
    """Given the mapfile of earlier runs (None: a new rescue), return the runs left and why."""
    if current is None:
        return ddrescue.PHASES, "new rescue: fast copy first, then scrape and retry"
    totals = current.totals()
    if totals.non_tried or totals.non_trimmed:
        return ddrescue.PHASES, "resuming: non-tried or non-trimmed areas remain"
    if totals.non_scraped or (totals.bad_sector and retries > 0):
        return ("scrape",), "resuming: only scraping or retrying bad sectors remains"
    return (), "the mapfile says the rescue is complete"


def choose_direct(device: BlockDevice, *, requested: bool) -> tuple[bool, str | None]:
    """Return whether to read with O_DIRECT, and why when it was not asked for.

    A mounted file system keeps blocks of its device in the kernel's cache, and may hold them
    changed in memory (ext4 does so with its journal even mounted read-only); a buffered read
    returns that view. Direct reads return what is on the medium.
    """
    if requested or not device.all_mountpoints:
        return requested, None
    return True, "direct disc access: the device is mounted, so its cached blocks may differ"


def check_or_refuse(reasons: tuple[str, ...]) -> None:
    if reasons:
        raise errors.RefusedError("refusing to image: " + "; ".join(reasons))


class NoImageError(errors.RecoveryError):
    """The job has no finished image to verify."""

    exit_code = 2


class ImageMismatchError(errors.RecoveryError):
    """The image no longer has the digests recorded when imaging finished."""

    exit_code = 3


def compare_digests(expected: dict, actual: dict) -> tuple[str, ...]:
    """Given the recorded and the fresh digests (md5, sha256, size), return what differs."""
    return tuple(
        f"{name}: recorded {expected.get(name)}, now {actual.get(name)}"
        for name in ("size", "md5", "sha256")
        if expected.get(name) != actual.get(name)
    )
