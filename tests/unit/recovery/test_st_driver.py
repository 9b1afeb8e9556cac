"""The st driver module's pure parts: ioctl numbers and struct layouts from <linux/mtio.h>, and the
buffer that grows on ENOMEM. (No st driver can run here; the emulator answers in raw bytes.)"""

from __future__ import annotations

import errno
import os
import struct

import pytest

from recovery import errors, st_driver
from tests.fixtures.tape_emulator import TapeEmulator


def test_ioctl_numbers_are_those_of_linux_mtio_h_on_x86_64():
    # _IOW('m', 1, struct mtop) and _IOR('m', 2, struct mtget) as the kernel headers expand them
    assert st_driver.MTIOCTOP == 0x40086D01
    assert st_driver.MTIOCGET == 0x80306D02
    assert (st_driver.MTOP.size, st_driver.MTGET.size) == (8, 48)


def test_mtop_is_a_short_padding_and_an_int():
    assert st_driver.encode_operation(st_driver.MTFSF, 3) == b"\x01\x00\x00\x00\x03\x00\x00\x00"
    assert st_driver.encode_operation(st_driver.MTSETBLK, 0) == struct.pack("<hxxi", 20, 0)


def test_mtget_fields_and_status_bits():
    dsreg = (0x58 << 24) | 65536  # density code 0x58 (LTO-5), 64 KiB fixed blocks
    gstat = 0x40000000 | 0x04000000 | 0x01000000  # BOT, WR_PROT, ONLINE
    raw = struct.pack("<qqqqqii", 0x72, 0, dsreg, gstat, 5, 0, 0)
    status = st_driver.decode_status(raw)
    assert (status.drive_type, status.block_size, status.density) == (0x72, 65536, 0x58)
    assert status.flags == ("bot", "write_protected", "online")
    assert (status.file_number, status.block_number, status.error_register) == (0, 0, 5)
    assert st_driver.encode_status(status) == raw


def test_unknown_block_number_is_minus_one():
    raw = struct.pack("<qqqqqii", 0x72, 0, 0, 0x08000000, 0, 3, -1)
    status = st_driver.decode_status(raw)
    assert status.has("eod") and status.block_number == -1 and status.block_size == 0


def test_a_short_struct_is_refused():
    with pytest.raises(struct.error):
        st_driver.decode_status(b"\0" * 40)


def test_read_one_grows_the_buffer_until_the_record_fits():
    drive = TapeEmulator([b"x" * 600_000], block_size=0)
    data, size = st_driver.read_one(drive, 256 * 1024)
    assert data == b"x" * 600_000 and size == 1024 * 1024
    assert drive.reads == 3  # 256 KiB and 512 KiB answered ENOMEM


def test_read_one_gives_up_past_the_largest_buffer():
    drive = TapeEmulator([b"x" * 10], block_size=0)
    drive.items[0] = b"x" * (st_driver.MAX_BUFFER + 1)
    with pytest.raises(OSError) as caught:
        st_driver.read_one(drive, st_driver.MAX_BUFFER // 2)
    assert caught.value.errno == errno.EFBIG


def test_other_read_errors_pass_through():
    drive = TapeEmulator([b"x"], bad={0: 1}, block_size=0)
    with pytest.raises(OSError) as caught:
        st_driver.read_one(drive)
    assert caught.value.errno == errno.EIO


def test_open_refuses_the_rewinding_node_and_non_devices(tmp_path):
    with pytest.raises(errors.RefusedError, match="/dev/nst0"):
        st_driver.open_drive("/dev/st0")
    with pytest.raises(errors.DeviceNotFound):
        st_driver.open_drive(str(tmp_path / "nst9"))
    regular = tmp_path / "nst1"
    regular.write_bytes(b"")
    with pytest.raises(errors.DeviceNotFound, match="not a character device"):
        st_driver.open_drive(str(regular))


def test_a_character_device_that_is_no_tape_answers_the_ioctl_with_an_error():
    """The real ioctl path: /dev/null is a character device without the mtio ioctls."""
    drive = st_driver.StDrive(os.open("/dev/null", os.O_RDONLY), "/dev/null")
    try:
        with pytest.raises(OSError) as caught:
            drive.status()
        assert caught.value.errno in (errno.ENOTTY, errno.EINVAL)
        with pytest.raises(OSError):
            drive.operation(st_driver.MTREW)
    finally:
        drive.close()
