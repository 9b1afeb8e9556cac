"""Unpacking an untrusted tar from a tape: nothing outside the folder, no links, devices or
setuid bits, 0700/0600; a damaged archive ends with a note."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from recovery import tar_safe


def archive(*members: tuple[tarfile.TarInfo, bytes]) -> io.BytesIO:
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    stream.seek(0)
    return stream


def member(name: str, kind=tarfile.REGTYPE, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a/b.txt", ("a", "b.txt")),
        ("./a//b", ("a", "b")),
        ("/etc/passwd", ("etc", "passwd")),  # a leading slash is dropped, as GNU tar does
        ("../x", None),
        ("a/../../x", None),
        ("a/..", None),
        ("", None),
        (".", None),
    ],
)
def test_safe_parts(name, parts):
    assert tar_safe.safe_parts(name) == parts


def test_escapes_links_and_devices_are_not_created(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    stream = archive(
        (member("../outside/evil"), b"x"),
        (member("link", tarfile.SYMTYPE, linkname=str(outside)), b""),
        (member("hard", tarfile.LNKTYPE, linkname="/etc/shadow"), b""),
        (member("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0), b""),
        (member("pipe", tarfile.FIFOTYPE), b""),
        (member("/abs/file"), b"absolute"),
        (member("link/inside"), b"a folder, not the link target"),
    )
    result = tar_safe.unpack(stream, target)
    assert not list(outside.iterdir())
    reasons = {item.name: item.reason for item in result.skipped}
    assert reasons["../outside/evil"] == "path leaves the target folder"
    assert "symbolic link" in reasons["link"] and "hard link" in reasons["hard"]
    assert "device node" in reasons["dev/sda"] and "FIFO" in reasons["pipe"]
    assert (target / "abs" / "file").read_bytes() == b"absolute"
    assert not (target / "link").is_symlink() and (target / "link" / "inside").is_file()
    assert not (target / "dev" / "sda").exists()


def test_modes_are_private_and_special_bits_dropped(tmp_path):
    stream = archive(
        (member("bin/su", mode=0o4755, mtime=946684800), b"#!"),
        (member("shared", tarfile.DIRTYPE, mode=0o3777), b""),
    )
    result = tar_safe.unpack(stream, tmp_path)
    assert stat.S_IMODE((tmp_path / "bin" / "su").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "bin").stat().st_mode) == 0o700
    assert result.special_bits_dropped == 2 and (result.files, result.directories) == (1, 1)
    assert (tmp_path / "bin" / "su").stat().st_mtime == 946684800  # the modification time is kept


def test_a_symlink_planted_in_the_folder_is_not_followed(tmp_path):
    target, outside = tmp_path / "out", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    os.symlink(outside, target / "a")
    os.symlink(outside / "f", target / "f")
    result = tar_safe.unpack(archive((member("a/x"), b"1"), (member("f"), b"2")), target)
    assert not list(outside.iterdir())
    assert {item.name for item in result.skipped} == {"a/x", "f"}


def test_a_later_member_replaces_an_earlier_file(tmp_path):
    result = tar_safe.unpack(archive((member("f"), b"old"), (member("f"), b"new")), tmp_path)
    assert (tmp_path / "f").read_bytes() == b"new" and result.files == 2


def test_a_truncated_archive_keeps_what_came_before(tmp_path):
    data = archive((member("first"), b"1" * 600), (member("second"), b"2" * 5000)).getvalue()
    result = tar_safe.unpack(io.BytesIO(data[: 1536 + 1024]), tmp_path)
    assert (tmp_path / "first").read_bytes() == b"1" * 600
    assert result.error is not None


def test_damaged_ranges_name_the_members_they_touch(tmp_path):
    data = archive((member("a"), b"a" * 100), (member("b"), b"b" * 2000), (member("c"), b"c"))
    result = tar_safe.unpack(data, tmp_path, damaged_ranges=((1024 + 512, 512),))
    assert result.damaged == ("b",)


def test_not_a_tar_raises_read_error(tmp_path):
    with pytest.raises(tarfile.ReadError):
        tar_safe.unpack(io.BytesIO(b"\x01" * 4096), tmp_path)
