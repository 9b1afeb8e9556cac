"""Tape files in a .tap image: formats by signature, statistics, one file's data, the resume
point an interrupted run left."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile

import pytest

from recovery import errors, simh_tap, tape_files, tape_stats
from tests.fixtures.tape_emulator import tap_bytes


def tar_bytes(tar_format) -> bytes:
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tar_format) as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    return stream.getvalue()


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (tar_bytes(tarfile.USTAR_FORMAT), "tar (POSIX ustar)"),
        (tar_bytes(tarfile.PAX_FORMAT), "tar (POSIX ustar)"),
        (tar_bytes(tarfile.GNU_FORMAT), "tar (GNU)"),
        (gzip.compress(b"x", mtime=0), "gzip"),  # mtime fixed: same test id in every worker
        (bz2.compress(b"x"), "bzip2"),
        (lzma.compress(b"x"), "xz"),
        (b"\x28\xb5\x2f\xfd rest", "zstd"),
        (b"070701" + b"0" * 100, "cpio (newc)"),
        (b"070707" + b"0" * 100, "cpio (odc)"),
        (b"\xc7\x71" + b"\0" * 100, "cpio (binary, little-endian)"),
        (b"VOL1ABC123", "ANSI tape label (VOL1)"),
        (b"\0" * 24 + b"\x6c\xea\x00\x00", "dump/restore"),
        (b"just some text", None),
        (b"", None),
    ],
)
def test_detect_format(head, name):
    assert tape_stats.detect_format(head[: tape_stats.HEAD_BYTES]) == name


def test_a_v7_tar_without_magic_is_known_by_its_checksum():
    header = bytearray(tar_bytes(tarfile.USTAR_FORMAT)[:512])
    header[257:265] = b"\0" * 8  # no magic, no version: as a 1980s tar wrote it
    header[148:156] = b" " * 8
    header[148:155] = f"{sum(header):06o}\0".encode()
    assert tape_stats.detect_format(bytes(header)) == "tar (v7)"
    header[0] ^= 1
    assert tape_stats.detect_format(bytes(header)) is None


def test_summary_counts_records_sizes_and_drops_the_end_of_data_filemark():
    image = tap_bytes([[b"a" * 10, b"b" * 10, b"c" * 4], [b"d" * 5, b"e"]], bad=((1, 1),))
    summary = tape_files.summarize(io.BytesIO(image))
    assert summary.ended and len(summary.files) == 2
    first, second = summary.files
    assert (first.records, first.bytes, first.common_sizes) == (3, 24, ((10, 2), (4, 1)))
    assert (second.records, second.error_records, second.bytes) == (2, 1, 5)


def test_write_file_fills_an_unreadable_record_with_the_usual_size():
    stream = io.BytesIO()
    writer = simh_tap.Writer(stream)
    for entry in (b"x", None, b"a" * 8, "bad", b"c" * 8, b"d" * 3, None, None):
        if entry is None:
            writer.tape_mark()
        elif entry == "bad":
            writer.error_record()
        else:
            writer.record(entry)
    image = stream.getvalue()
    out = io.BytesIO()
    written, filled = tape_files.write_file(io.BytesIO(image), 1, out)
    assert out.getvalue() == b"a" * 8 + b"\0" * 8 + b"c" * 8 + b"d" * 3
    assert written == 27 and filled == (tape_files.Filled(1, 8, 8),)


def test_write_file_refuses_a_file_the_image_does_not_have():
    with pytest.raises(errors.InvalidRequest, match="not file 2"):
        tape_files.write_file(io.BytesIO(tap_bytes([[b"x"], [b"y"]])), 2, io.BytesIO())


def test_resume_point_drops_a_cut_tail_after_the_last_filemark():
    stream = io.BytesIO()
    writer = simh_tap.Writer(stream)
    writer.record(b"one")
    writer.tape_mark()
    end_of_first = len(stream.getvalue())
    writer.record(b"two-two")
    image = stream.getvalue()[:-3]  # interrupted while the record was being written
    point = tape_files.resume_point(io.BytesIO(image))
    assert (point.offset, point.ended, len(point.complete_files)) == (end_of_first, False, 1)


def test_resume_point_is_the_last_filemark_before_any_damage():
    image = bytearray(tap_bytes([[b"one"], [b"two"], [b"three"]]))
    image[16] = 9  # file 1's record: its length no longer matches its trailer
    point = tape_files.resume_point(io.BytesIO(bytes(image)))
    assert (point.offset, len(point.complete_files), point.ended) == (16, 1, False)


def test_partial_data_of_an_error_record_is_kept():
    image = tap_bytes([[b"a" * 8, b"b" * 5, b"c" * 8]], bad=((0, 1),))
    out = io.BytesIO()
    tape_files.write_file(io.BytesIO(image), 0, out)
    assert out.getvalue() == b"a" * 8 + b"b" * 5 + b"\0" * 3 + b"c" * 8


def test_open_image_refuses_what_is_not_a_regular_file(tmp_path):
    with pytest.raises(errors.InvalidRequest, match="not a regular file"):
        tape_files.open_image(tmp_path)
    with pytest.raises(errors.InvalidRequest, match="cannot open"):
        tape_files.open_image(tmp_path / "missing.tap")
