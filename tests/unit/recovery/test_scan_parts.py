"""The pure parts of a media scan: names, runs, damage, true lengths, PhotoRec's report (fuzzed)."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import stat
import struct
import threading
import zipfile
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery import carve_trim, damage, errors, photorec
from recovery import mapfile as mapfile_module
from recovery.scan_model import ByteRun, complement, cut_runs, merge_runs, overlap
from recovery.scan_output import (
    MAX_COMPONENT_BYTES,
    OutputFolder,
    replace_unsafe_characters,
    sanitize_component,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("..", "_.."),
        (".", "_."),
        ("", "_"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("a\\b", "a_b"),
        ("line\nbreak", "line_break"),
        ("bidi\u202etxt.exe", "bidi_txt.exe"),
        ("nul\0byte", "nul_byte"),
        ("bad\udcffbyte", "bad_byte"),
    ],
)
def test_sanitize_component_table(name, expected):
    assert sanitize_component(name) == expected


@given(st.text())
def test_sanitize_component_is_always_one_safe_component(name):
    safe = sanitize_component(name)
    assert "/" not in safe and "\0" not in safe and safe not in ("", ".", "..")
    assert len(safe.encode("utf-8")) <= MAX_COMPONENT_BYTES


@given(st.one_of(st.text(alphabet=st.characters(max_codepoint=127)), st.text()))
def test_the_fast_path_for_plain_names_replaces_what_the_loop_replaces(name):
    expected = replace_unsafe_characters(name).strip()
    expected = "_" + expected if expected in ("", ".", "..") else expected
    if len(expected.encode("utf-8")) <= MAX_COMPONENT_BYTES:
        assert sanitize_component(name) == expected


def test_output_folder_keeps_hostile_names_inside_and_private(tmp_path):
    root = tmp_path / "out"
    with OutputFolder(root) as output:
        first = output.write(["..", "..", "etc"], "passwd", lambda sink: sink(b"one"))
        second = output.write(["..", "..", "etc"], "passwd", lambda sink: sink(b"two"))
        third = output.write(["a/b"], "x", lambda sink: sink(b""))
    assert first[0] == "_../_../etc/passwd" and second[0] == "_../_../etc/passwd~2"
    assert third[0] == "a_b/x"
    assert not (tmp_path / "etc").exists()
    for path in root.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_output_folder_refuses_a_non_empty_folder_and_a_symlink(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "planted").symlink_to("/etc/passwd")
    with pytest.raises(errors.RefusedError, match="not empty"):
        OutputFolder(tmp_path / "full")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(errors.RefusedError, match="not a directory"):
        OutputFolder(tmp_path / "link")


def test_a_file_where_a_folder_goes_gets_a_numbered_folder(tmp_path):
    with OutputFolder(tmp_path / "out") as output:
        output.write([], "docs", lambda sink: sink(b"file"))
        path, _, _ = output.write(["docs"], "a.txt", lambda sink: sink(b"x"))
    assert path == "docs~2/a.txt" and (tmp_path / "out" / path).read_bytes() == b"x"


def test_a_failed_fill_leaves_no_partial_file(tmp_path):
    def fail(sink):
        sink(b"half")
        raise OSError("read error")

    with OutputFolder(tmp_path / "out") as output, pytest.raises(OSError):
        output.write(["d"], "f", fail)
    assert os.listdir(tmp_path / "out" / "d") == []


runs = st.lists(st.builds(ByteRun, st.integers(0, 10_000), st.integers(0, 500)), max_size=20).map(
    tuple
)


@given(runs, runs)
def test_overlap_and_complement_agree_with_byte_sets(first, second):
    def byte_set(items):
        return {offset for run in items for offset in range(run.offset, run.end)}

    merged_first, merged_second = merge_runs(first), merge_runs(second)
    assert overlap(merged_first, merged_second) == len(byte_set(first) & byte_set(second))
    gaps = complement(merged_first, 11_000)
    assert byte_set(gaps) == set(range(11_000)) - byte_set(first)


def test_cut_runs_keeps_the_first_bytes_in_file_order():
    assert cut_runs((ByteRun(100, 50), ByteRun(10, 50)), 70) == (ByteRun(100, 50), ByteRun(10, 20))


def test_damaged_bytes_counts_bytes_in_unfinished_areas():
    mapfile = mapfile_module.parse(
        io.StringIO("0x0 +\n0x0 0x1000 +\n0x1000 0x200 -\n0x1200 0x100 ?\n0x1300 0xD00 +\n")
    )
    unreadable = damage.unreadable_runs(mapfile)
    assert unreadable == (ByteRun(0x1000, 0x300),)
    assert damage.damaged_bytes((ByteRun(0xF00, 0x200), ByteRun(0x1280, 0x400)), unreadable) == (
        0x100 + 0x80
    )
    assert damage.damaged_bytes((ByteRun(0, 0x1000),), unreadable) == 0
    assert damage.unreadable_runs(None) == ()


def _png() -> bytes:
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        carve_trim.PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0"))
        + chunk(b"IEND", b"")
    )


def _jpeg() -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0" + b"\x01\x01\0\0\x01\0\x01\0\0"
    scan = b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\0\0\x3f\0"
    return b"\xff\xd8" + app0 + scan + b"\x12\xff\x00\x34\xff\xd0\x56" + b"\xff\xd9"


def _zip() -> bytes:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("a.txt", "hello" * 100)
    return stream.getvalue()


@pytest.mark.parametrize(
    ("extension", "content"),
    [
        ("gz", gzip.compress(b"customer data " * 1000, mtime=0)),  # same id in every worker
        ("png", _png()),
        ("jpg", _jpeg()),
        ("zip", _zip()),
        ("txt", b"plain text\nsecond line\n"),
    ],
)
def test_true_length_cuts_what_a_carver_read_past_the_end(extension, content):
    assert carve_trim.true_length(extension, content + b"\0" * 700 + b"junk" * 50) == len(content)
    assert carve_trim.true_length(extension, content) in (len(content), None)


def test_true_length_is_none_for_other_formats_and_truncated_files():
    assert carve_trim.true_length("pdf", b"%PDF-1.4 ...") is None
    assert carve_trim.true_length("gz", gzip.compress(b"x" * 5000)[:20]) is None
    assert carve_trim.true_length("png", _png()[:30]) is None


@given(st.sampled_from(sorted(carve_trim.FORMATS)), st.binary(max_size=600))
@settings(max_examples=300)
def test_true_length_never_fails_on_garbage(extension, data):
    length = carve_trim.true_length(extension, data)
    assert length is None or 0 < length <= len(data)


REPORT = b"""<?xml version='1.0' encoding='UTF-8'?>
<dfxml xmloutputversion='1.0'>
  <metadata xmlns='http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML'
   xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:type>Carve Report</dc:type></metadata>
  <fileobject>
    <filename>f0001319.gz</filename>
    <filesize>8192</filesize>
    <byte_runs>
      <byte_run offset='4096' img_offset='900000' len='4096'/>
      <byte_run offset='0' img_offset='675328' len='4096'/>
    </byte_runs>
  </fileobject>
</dfxml>
"""


def test_parse_report_reads_files_and_runs_in_file_order():
    (carved,) = photorec.parse_report(io.BytesIO(REPORT))
    assert carved == photorec.CarvedObject(
        "f0001319.gz", 8192, (ByteRun(675328, 4096), ByteRun(900000, 4096))
    )


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not xml",
        b"<html/>",
        REPORT.replace(b"len='4096'", b"len='-1'", 1),
        REPORT.replace(b"<filesize>8192</filesize>", b""),
    ],
)
def test_parse_report_tells_damage(content):
    with pytest.raises(photorec.ReportError):
        photorec.parse_report(io.BytesIO(content))


@given(st.binary(max_size=400))
@settings(max_examples=300)
def test_parse_report_fuzz_bytes(content):
    with contextlib.suppress(photorec.ReportError):
        photorec.parse_report(io.BytesIO(content))


@given(st.integers(0, len(REPORT)), st.binary(max_size=20))
@settings(max_examples=300)
def test_parse_report_fuzz_mutations(position, insert):
    content = REPORT[:position] + insert + REPORT[position + len(insert) :]
    try:
        result = photorec.parse_report(io.BytesIO(content))
    except photorec.ReportError:
        return
    assert all(run.length >= 0 for carved in result for run in carved.runs)


def test_carve_argv_is_a_batch_command():
    assert photorec.carve_argv("/j/u.img", "/j/carved") == (
        "/usr/bin/photorec",
        "/log",
        "/d",
        "/j/carved",
        "/cmd",
        "/j/u.img",
        "partition_none,options,paranoid,keep_corrupted_file_no,fileopt,everything,enable,"
        "wholespace,search",
    )
    assert photorec.parse_version("PhotoRec 7.1, Data Recovery Utility, July 2019") == "7.1"


def test_threads_writing_into_new_folders_share_each_folder_and_leak_nothing(tmp_path):
    # the text carver's thread writes beside the main thread: the folder cache is locked
    threads, rounds = 6, 30
    barrier = threading.Barrier(threads)
    before = set(os.listdir("/proc/self/fd"))
    with OutputFolder(tmp_path / "out") as output:

        def writer(number: int) -> None:
            for folder in range(rounds):
                barrier.wait()
                output.write(["top", f"d{folder}"], f"f{number}", lambda sink: sink(b"x"))

        workers = [threading.Thread(target=writer, args=(number,)) for number in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert set(os.listdir("/proc/self/fd")) == before
    assert sorted(os.listdir(tmp_path / "out" / "top")) == sorted(f"d{n}" for n in range(rounds))
    for folder in range(rounds):
        assert len(os.listdir(tmp_path / "out" / "top" / f"d{folder}")) == threads
