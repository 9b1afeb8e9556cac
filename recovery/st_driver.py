"""The one module that talks to the Linux SCSI tape driver (st): ioctls and record reads.

Semantics taken from the kernel's Documentation/scsi/st.rst and <linux/mtio.h>:

* the non-rewinding node (``/dev/nstN``, minor 128 + N) leaves the tape where it is on close;
* in variable block mode (MTSETBLK 0) each read() returns one tape record when the buffer is at
  least as large as the record, else fails with ENOMEM (nothing is lost: read again larger);
* a read at a filemark returns 0 and leaves the tape after it; end of data is two reads that
  return 0 in a row, or an error with GMT_EOD in the status;
* MTIOCGET returns ``struct mtget``: mt_type, mt_resid, mt_dsreg (block size in bits 0-23,
  density code in bits 24-31), mt_gstat (GMT_* bits), mt_erreg, mt_fileno, mt_blkno (-1 when
  unknown).

The struct layouts below are those of x86-64 and other LP64 Linux ABIs (``long`` is 8 bytes,
``__kernel_daddr_t`` is ``int``). Everything above this module sees the small ``TapeDrive``
interface, so tests can serve a .tap image through an emulator with the same behaviour.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import os
import stat
import struct
from typing import Protocol

from recovery import errors

# struct mtop { short mt_op; int mt_count; }: 2 bytes, 2 of padding, 4 bytes.
MTOP = struct.Struct("=hxxi")
# struct mtget { long mt_type, mt_resid, mt_dsreg, mt_gstat, mt_erreg; int mt_fileno, mt_blkno; }
MTGET = struct.Struct("=5q2i")


def _ioc(direction: int, kind: str, number: int, size: int) -> int:
    """Linux _IOC(dir, type, nr, size) for x86-64 and the other common ABIs."""
    return (direction << 30) | (size << 16) | (ord(kind) << 8) | number


_IOC_WRITE, _IOC_READ = 1, 2
MTIOCTOP = _ioc(_IOC_WRITE, "m", 1, MTOP.size)  # 0x40086d01
MTIOCGET = _ioc(_IOC_READ, "m", 2, MTGET.size)  # 0x80306d02

# mt_op values
MTFSF, MTBSF, MTFSR, MTBSR, MTREW, MTNOP, MTSETBLK = 1, 2, 3, 4, 6, 8, 20

# mt_gstat bits (GMT_*)
STATUS_BITS = {
    "eof": 0x80000000,
    "bot": 0x40000000,
    "eot": 0x20000000,
    "setmark": 0x10000000,
    "eod": 0x08000000,
    "write_protected": 0x04000000,
    "online": 0x01000000,
    "door_open": 0x00040000,
    "cleaning_requested": 0x00008000,
}
BLOCK_SIZE_MASK, DENSITY_SHIFT = 0x00FFFFFF, 24

FIRST_BUFFER = 256 * 1024  # larger than the records of nearly every tape format
MAX_BUFFER = 16 * 1024 * 1024  # SIMH .tap cannot hold a larger record anyway


@dataclasses.dataclass(frozen=True)
class DriveStatus:
    """What MTIOCGET tells: block size 0 means variable block mode; -1 numbers are unknown."""

    drive_type: int
    residual: int
    block_size: int
    density: int
    file_number: int
    block_number: int
    flags: tuple[str, ...]
    error_register: int = 0

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "flags": list(self.flags)}


def encode_operation(operation: int, count: int) -> bytes:
    """Given an mt_op and a count, return the struct mtop bytes for MTIOCTOP."""
    return MTOP.pack(operation, count)


def decode_status(raw: bytes) -> DriveStatus:
    """Given the bytes of a struct mtget, return the status; raise ValueError on a wrong size."""
    drive_type, residual, dsreg, gstat, erreg, file_number, block_number = MTGET.unpack(raw)
    return DriveStatus(
        drive_type=drive_type,
        residual=residual,
        block_size=dsreg & BLOCK_SIZE_MASK,
        density=(dsreg >> DENSITY_SHIFT) & 0xFF,
        file_number=file_number,
        block_number=block_number,
        flags=tuple(name for name, bit in STATUS_BITS.items() if gstat & bit),
        error_register=erreg,
    )


def encode_status(status: DriveStatus) -> bytes:
    """The inverse of decode_status (for the emulator and tests)."""
    gstat = sum(STATUS_BITS[name] for name in status.flags)
    dsreg = (status.density << DENSITY_SHIFT) | (status.block_size & BLOCK_SIZE_MASK)
    return MTGET.pack(
        status.drive_type,
        status.residual,
        dsreg,
        gstat,
        status.error_register,
        status.file_number,
        status.block_number,
    )


class TapeDrive(Protocol):
    """The operations the tape actions need; the st driver and the test emulator provide them."""

    def operation(self, operation: int, count: int = 1) -> None:
        """Run one MTIOCTOP operation; raise OSError when the drive refuses or fails."""

    def status(self) -> DriveStatus:
        """Return MTIOCGET's status; raise OSError."""

    def read_record(self, size: int) -> bytes:
        """Read one record with a buffer of ``size`` bytes; b"" at a filemark; raise OSError
        (ENOMEM: the record is larger than ``size``; EIO: unreadable)."""

    def close(self) -> None: ...


class StDrive:
    """A tape drive opened through the st driver's non-rewinding node."""

    def __init__(self, descriptor: int, node: str) -> None:
        self.descriptor, self.node = descriptor, node

    def operation(self, operation: int, count: int = 1) -> None:
        fcntl.ioctl(self.descriptor, MTIOCTOP, encode_operation(operation, count))

    def status(self) -> DriveStatus:
        return decode_status(fcntl.ioctl(self.descriptor, MTIOCGET, bytes(MTGET.size)))

    def read_record(self, size: int) -> bytes:
        return os.read(self.descriptor, size)

    def close(self) -> None:
        os.close(self.descriptor)


def open_drive(node: str) -> StDrive:
    """Given a tape node, open it read-only; return the drive.

    Raise DeviceNotFound when it is missing or not a character device, RefusedError when it is a
    rewinding node (closing it would rewind the tape and lose the position).
    """
    real = os.path.realpath(node)
    name = os.path.basename(real)
    if name.startswith("st") and name[2:].rstrip("lma").isdigit():
        raise errors.RefusedError(
            f"{node} rewinds on close; use the non-rewinding node /dev/n{name}"
        )
    try:
        descriptor = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise errors.DeviceNotFound(f"no tape drive {node!r} (see: backupctl media list)") from None
    except OSError as error:
        raise errors.RecoveryError(f"cannot open {node}: {error.strerror}") from None
    if not stat.S_ISCHR(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise errors.DeviceNotFound(f"{node} is not a tape drive (not a character device)")
    return StDrive(descriptor, real)


def read_one(drive: TapeDrive, size: int = FIRST_BUFFER) -> tuple[bytes, int]:
    """Given a drive, read one record, doubling the buffer while the drive says ENOMEM.

    Return the record (b"" at a filemark) and the buffer size that fitted it. Raise OSError for
    other errors, and OSError(EFBIG) when a record is larger than MAX_BUFFER.
    """
    while True:
        try:
            return drive.read_record(size), size
        except OSError as error:
            if error.errno != errno.ENOMEM:
                raise
            if size >= MAX_BUFFER:
                raise OSError(errno.EFBIG, f"a record larger than {MAX_BUFFER} bytes") from None
            size = min(size * 2, MAX_BUFFER)
