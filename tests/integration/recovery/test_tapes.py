"""Round trips: tar -> emulated tape -> `tape image` -> `tape files` / `tape extract` -> the files.

The tape is a .tap written by our writer and served by the st-semantics emulator
(tests/fixtures/tape_emulator.py): this kernel has no SCSI subsystem, st driver or CUSE, so no
real tape driver can run here (docs/tapes.md says what was verified against what). The emulator
stands in for StDrive behind the one seam, and in the last test it sits behind a FUSE file so the
real StDrive's ioctls and reads go through the kernel. Everything after the drive is real: the
job store and custody chain, the private image folder, the installed `backupctl` command for
`tape files` and `tape extract`.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import stat
import struct
import subprocess
import sys
import tarfile

import pytest
from click.testing import CliRunner

from backupctl.actions import tape as tape_action
from recovery import errors, st_driver
from recovery.devices import BlockDevice
from tests.fixtures import requirements, tape_fuse
from tests.fixtures.tape_emulator import Access, TapeEmulator, records_of, tap_bytes
from tests.integration.recovery.conftest import who

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
NODE = "/dev/nst0"
RECORD = 10240  # tar's default blocking factor 20


def drive_device() -> BlockDevice:
    return BlockDevice(
        node=NODE,
        kind="tape",
        bus="scsi",
        vendor="HP",
        model="Ultrium 5-SCSI",
        serial="HU1234ABCD",
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


def contents(seed: str) -> dict[str, bytes]:
    """Files of several sizes (some spanning records), in folders."""
    block = hashlib.sha256(seed.encode()).digest()
    return {
        f"{seed}/readme.txt": b"customer data " * 50,
        f"{seed}/docs/big.bin": block * 2000,  # 64000 bytes: spans several records
        f"{seed}/docs/small.bin": block[:7],
        f"{seed}/z/last.bin": block * 700,
    }


def tar_of(files: dict[str, bytes], *, compress: bool = False) -> bytes:
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o4755  # setuid: must not survive extraction
            tar.addfile(info, io.BytesIO(data))
    raw = stream.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def run_cli(state_dir: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "BACKUPCTL_STATE_DIR": str(state_dir),
        "BACKUPCTL_CONFIG": str(state_dir / "absent.toml"),
    }
    return subprocess.run(
        (str(BACKUPCTL), *args), check=False, capture_output=True, text=True, env=env, timeout=60
    )


def read_tree(folder: pathlib.Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


@pytest.fixture
def tape():
    """File 0: a tar whose middle record fails twice; file 1: data with a record that never
    reads; file 2: a gzip-compressed tar. Then two filemarks."""
    first, third = contents("alpha"), contents("omega")
    files = [
        records_of(tar_of(first), RECORD),
        [b"\x00\x01" * 300, b"unreadable" * 40, b"\x02" * 64],
        records_of(tar_of(third, compress=True), 512),  # several records
    ]
    emulator = TapeEmulator.from_tap(tap_bytes(files, bad=((1, 1),)))
    emulator.bad[emulator.index_of(0, 3)] = 2  # fails twice, then reads
    return emulator, first, third, files


def test_tape_image_then_extract_gives_identical_files(state, tape, tmp_path):
    store, job, state_dir = state
    emulator, first, third, files = tape
    request = tape_action.Request(job.job_id, NODE, retries=3)
    details = tape_action.image(
        store, request, who(state_dir), access=Access(NODE, emulator, drive_device())
    )
    image = pathlib.Path(details["paths"]["image"])
    assert image.parent == job.folder and stat.S_IMODE(image.stat().st_mode) == 0o600
    assert details["end"] == "two filemarks"
    assert [(bad["file_number"], bad["record_number"]) for bad in details["bad_records"]] == [
        (1, 1)
    ]
    assert details["files"][0]["sha256"] == hashlib.sha256(b"".join(files[0])).hexdigest()
    assert details["files"][0]["error_records"] == 0  # the flaky record was read on retry
    assert emulator.closed
    assert details["sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()

    listed = run_cli(state_dir, "tape", "files", str(image), "--json")
    assert listed.returncode == 0, listed.stderr
    summary = json.loads(listed.stdout)
    assert [item["format"] for item in summary["files"]] == ["tar (GNU)", None, "gzip"]
    assert summary["files"][0]["common_sizes"] == [[RECORD, len(files[0])]]  # tar pads its records

    for number, expected in ((0, first), (2, third)):
        out = tmp_path / f"out{number}"
        result = run_cli(state_dir, "tape", "extract", str(image), str(number), "--to", str(out))
        assert result.returncode == 0, result.stderr
        unpacked = out / f"file-{number}"
        assert read_tree(unpacked) == expected
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        assert all(
            stat.S_IMODE(path.stat().st_mode) in (0o600, 0o700) for path in unpacked.rglob("*")
        )
    events = [event.kind for event in store.events(job.job_id)]
    assert events[-2:] == ["tape.started", "tape.finished"]
    assert store.verify_chain(job.job_id)[0]


def test_a_record_lost_inside_a_tar_leaves_the_other_members_whole(state, tmp_path):
    store, job, state_dir = state
    files = contents("beta")
    records = records_of(tar_of(files), RECORD)
    emulator = TapeEmulator.from_tap(tap_bytes([records], bad=((0, 2),)))
    request = tape_action.Request(job.job_id, NODE, retries=1)
    access = Access(NODE, emulator, drive_device())
    image = pathlib.Path(
        tape_action.image(store, request, who(state_dir), access=access)["paths"]["image"]
    )
    out = tmp_path / "out"
    result = run_cli(state_dir, "tape", "extract", str(image), "0", "--to", str(out), "--json")
    assert result.returncode == 0, result.stderr
    details = json.loads(result.stdout)
    assert details["filled"] == [{"record_number": 2, "offset": 2 * RECORD, "length": RECORD}]
    assert details["unpacked"]["damaged"] == ["beta/docs/big.bin"]
    extracted = read_tree(out / "file-0")
    for name in ("beta/readme.txt", "beta/docs/small.bin", "beta/z/last.bin"):
        assert extracted[name] == files[name]
    assert (out / "file-0.bin").stat().st_size == len(b"".join(records))


def test_an_interrupted_image_resumes_after_the_last_complete_file(state, tape, tmp_path):
    store, job, state_dir = state
    emulator, _, _, files = tape
    access = Access(NODE, emulator, drive_device())
    request = tape_action.Request(job.job_id, NODE, retries=3)

    seen_in_file_two = []

    def stop_in_file_two(progress):  # after the filemark and one record of file 2
        seen_in_file_two.extend([progress.records] if progress.file_number == 2 else [])
        if len(seen_in_file_two) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tape_action.image(
            store, request, who(state_dir), access=access, on_progress=stop_in_file_two
        )
    details = tape_action.image(store, request, who(state_dir), access=access)
    events = store.events(job.job_id)
    assert [event.kind for event in events][-4:] == [
        "tape.started",
        "tape.interrupted",
        "tape.started",
        "tape.finished",
    ]
    assert events[-2].details["resume_from_file"] == 2
    assert (st_driver.MTFSF, 2) in emulator.operations
    # the resumed image is the image of the tape read in one go
    one_go = tap_bytes(files, bad=((1, 1),)).replace(b"unreadable" * 40, b"")
    one_go = one_go.replace(struct.pack("<I", 0x80000000 | 400), struct.pack("<I", 0x80000000))
    assert pathlib.Path(details["paths"]["image"]).read_bytes() == one_go
    assert details["sha256"] == hashlib.sha256(one_go).hexdigest()  # hashed while written
    assert details["md5"] == hashlib.md5(one_go).hexdigest() and details["size"] == len(one_go)
    assert [file["number"] for file in details["files"]] == [0, 1, 2]


def test_a_finished_image_is_not_overwritten_without_restart(state, tape):
    store, job, state_dir = state
    emulator, _, _, _ = tape
    access = Access(NODE, emulator, drive_device())
    request = tape_action.Request(job.job_id, NODE, retries=3)
    tape_action.image(store, request, who(state_dir), access=access)
    with pytest.raises(errors.RefusedError, match="--restart"):
        tape_action.image(store, request, who(state_dir), access=access)
    again = tape_action.Request(job.job_id, NODE, retries=3, restart=True)
    assert tape_action.image(store, again, who(state_dir), access=access)["end"] == "two filemarks"


def test_tape_image_command_through_the_cli(state, tape, monkeypatch):
    """The `tape image` command in-process: SystemTapeAccess is swapped for the emulator (the
    one seam), since no st driver exists in this kernel."""
    from backupctl.cli import main

    store, job, state_dir = state
    emulator, _, _, _ = tape
    monkeypatch.setattr(
        tape_action, "SystemTapeAccess", lambda *_: Access(NODE, emulator, drive_device())
    )
    monkeypatch.setenv("BACKUPCTL_STATE_DIR", str(state_dir))
    monkeypatch.setenv("BACKUPCTL_CONFIG", str(state_dir / "absent.toml"))
    result = CliRunner().invoke(main.cli, ["tape", "image", NODE, "--job", job.job_id, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "3 tape files" in result.output and "file 1 record 1" in result.output
    shown = CliRunner().invoke(main.cli, ["tape", "info", NODE, "--json"])
    assert shown.exit_code == 0, shown.output
    status = json.loads(shown.output)
    assert status["variable_block_mode"] and "write_protected" in status["flags"]
    assert status["serial"] == "HU1234ABCD"


def test_another_drive_than_the_jobs_is_refused_and_recorded(state, tape):
    store, job, state_dir = state
    emulator, _, _, _ = tape
    access = Access(NODE, emulator, drive_device())
    tape_action.image(
        store, tape_action.Request(job.job_id, NODE, label="t1"), who(state_dir), access=access
    )
    other = dataclasses.replace(drive_device(), serial="OTHER-DRIVE")
    with pytest.raises(errors.RefusedError, match="not the drive of job"):
        tape_action.image(
            store,
            tape_action.Request(job.job_id, NODE, label="t2"),
            who(state_dir),
            access=Access(NODE, emulator, other),
        )
    assert store.events(job.job_id)[-1].kind == "tape.refused"


@pytest.mark.parametrize("label", ["../x", "a b", "", "x" * 41])
def test_a_label_that_is_no_plain_name_is_refused(state, tape, label):
    store, job, state_dir = state
    emulator, _, _, _ = tape
    access = Access(NODE, emulator, drive_device())
    with pytest.raises(errors.InvalidRequest, match="tape label"):
        tape_action.image(
            store, tape_action.Request(job.job_id, NODE, label=label), who(state_dir), access=access
        )


def test_a_disk_is_sent_to_media_image(state, tape):
    store, job, state_dir = state
    emulator, _, _, _ = tape
    disk = dataclasses.replace(drive_device(), kind="usb-stick")
    with pytest.raises(errors.InvalidRequest, match="media image"):
        tape_action.image(
            store,
            tape_action.Request(job.job_id, NODE),
            who(state_dir),
            access=Access(NODE, emulator, disk),
        )


def test_a_damaged_image_is_reported_with_record_and_offset(tmp_path):
    image = tmp_path / "bad.tap"
    data = bytearray(tap_bytes([[b"abcd", b"efgh"]]))
    data[12] = 7  # the second record's length
    image.write_bytes(bytes(data))
    result = run_cli(tmp_path, "tape", "files", str(image))
    assert result.returncode == 3
    assert "record 2, byte offset 12" in result.stderr and "Traceback" not in result.stderr


class FuseAccess(Access):
    """The real StDrive on the emulator behind a FUSE file: ioctls and reads through the kernel."""

    def __init__(self, node: str, path: pathlib.Path, device) -> None:
        super().__init__(node, None, device)
        self.path = path

    def open(self, node: str):
        self.describe(node)
        return tape_fuse.open_drive(self.path)


@pytest.fixture
def fuse_tape(tmp_path):
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        requirements.skip_or_fail("needs root, /dev/fuse and fusermount3 (fuse3)")
    served = []

    def make(image: pathlib.Path) -> pathlib.Path:
        server, node = tape_fuse.serve(image, tmp_path)
        served.append((server, node))
        return node

    yield make
    for server, node in served:
        tape_fuse.stop(server, node)


def test_the_real_st_module_through_the_kernel_images_a_tape(state, fuse_tape, tmp_path):
    """StDrive unchanged (fcntl.ioctl MTIOCTOP/MTIOCGET, os.read), served by the emulator
    through FUSE: records below FUSE's 128 KiB request size, an unreadable record in file 1."""
    store, job, state_dir = state
    files = contents("gamma")
    tape_files = [records_of(tar_of(files), RECORD), [b"x" * 100, b"lost" * 10, b"y" * 7]]
    image_in = tmp_path / "in.tap"
    image_in.write_bytes(tap_bytes(tape_files, bad=((1, 1),)))
    node = fuse_tape(image_in)
    request = tape_action.Request(job.job_id, NODE, retries=2)
    details = tape_action.image(
        store, request, who(state_dir), access=FuseAccess(NODE, node, drive_device())
    )
    assert details["end"] == "two filemarks"
    assert [
        (bad["file_number"], bad["record_number"], bad["attempts"])
        for bad in details["bad_records"]
    ] == [(1, 1, 3)]
    out = tmp_path / "out"
    result = run_cli(state_dir, "tape", "extract", details["paths"]["image"], "0", "--to", str(out))
    assert result.returncode == 0, result.stderr
    assert read_tree(out / "file-0") == files


def test_the_real_st_module_through_the_kernel_short_buffer_and_status(fuse_tape, tmp_path):
    image = tmp_path / "in.tap"
    image.write_bytes(tap_bytes([[b"r" * 5000, b"s" * 20]]))
    drive = tape_fuse.open_drive(fuse_tape(image))
    try:
        assert "bot" in drive.status().flags
        drive.operation(st_driver.MTSETBLK, 0)
        with pytest.raises(OSError) as caught:
            drive.read_record(4096)  # the record is 5000 bytes
        assert caught.value.errno == errno.ENOMEM
        assert st_driver.read_one(drive, 4096) == (b"r" * 5000, 8192)
        drive.operation(st_driver.MTFSR, 1)
        assert drive.read_record(65536) == b""  # the filemark
        status = drive.status()
        assert (status.file_number, status.block_number, status.block_size) == (1, 0, 0)
        assert "eof" in status.flags
    finally:
        drive.close()
