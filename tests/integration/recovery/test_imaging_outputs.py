"""Where `media image` writes, against a local user who planted files near the output.

The planting is done as root here (the test runs as root), standing in for a local user with
write access to the --out directory: what matters is what root's imaging then does with it.
Real parts: GNU ddrescue, a FUSE-backed disk through a loop device.
"""

from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest

from backupctl.actions import image as image_action
from recovery import blockdev, errors
from tests.integration.recovery.conftest import who

MIB = 1024 * 1024
BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"


@pytest.fixture
def out(tmp_path) -> pathlib.Path:
    folder = tmp_path / "out"
    folder.mkdir(mode=0o700)
    return folder


def kinds(store, job_id) -> list[str]:
    return [event.kind for event in store.events(job_id)]


def test_symlinks_named_like_the_lock_and_read_only_record_are_never_followed(
    faulty_disk, state, out, tmp_path
):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    precious = tmp_path / "precious"
    precious.write_text("someone else's file")
    (out / f".{job.job_id}.read-only").symlink_to(precious)
    (out / f".{job.job_id}.lock").symlink_to(tmp_path / "created-by-root")
    request = image_action.Request(job.job_id, disk.node, out_dir=out)
    details = image_action.image(store, request, who(state_dir))
    assert precious.read_text() == "someone else's file"
    assert not (tmp_path / "created-by-root").exists()
    assert pathlib.Path(details["paths"]["image"]).parent == out / job.job_id


def test_a_dangling_symlink_named_like_the_image_does_not_receive_it(
    faulty_disk, state, out, tmp_path
):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    elsewhere = tmp_path / "elsewhere.img"
    (out / f"{job.job_id}.img").symlink_to(elsewhere)
    (out / f"{job.job_id}.map").symlink_to(tmp_path / "elsewhere.map")
    request = image_action.Request(job.job_id, disk.node, out_dir=out)
    details = image_action.image(store, request, who(state_dir))
    assert not elsewhere.exists() and not (tmp_path / "elsewhere.map").exists()
    image = pathlib.Path(details["paths"]["image"])
    assert image == out / job.job_id / f"{job.job_id}.img" and not image.is_symlink()


def test_a_planted_read_only_record_does_not_leave_the_source_writable(faulty_disk, state, out):
    store, job, state_dir = state
    disk = faulty_disk(size=8 * MIB)
    record = {"node": disk.node, "read_only": True}
    (out / f".{job.job_id}.read-only").write_text(json.dumps(record))
    seen = []
    request = image_action.Request(job.job_id, disk.node, out_dir=out, direct=True)
    details = image_action.image(
        store,
        request,
        who(state_dir),
        on_progress=lambda _: seen.append(blockdev.get_read_only(disk.node)),
    )
    assert seen and all(seen), "the source was writable while imaging"
    assert details["read_only_enforced"] is True
    assert blockdev.get_read_only(disk.node) is False


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757])
def test_an_out_directory_writable_by_others_without_sticky_bit_is_refused(
    faulty_disk, state, out, mode
):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    os.chmod(out, mode)
    request = image_action.Request(job.job_id, disk.node, out_dir=out)
    with pytest.raises(errors.RefusedError, match="writable by other users") as raised:
        image_action.image(store, request, who(state_dir))
    assert raised.value.exit_code == 4 and list(out.iterdir()) == []
    assert kinds(store, job.job_id)[-1] == "image.refused"


def test_a_sticky_world_writable_out_directory_is_used_through_a_private_folder(
    faulty_disk, state, out
):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    os.chmod(out, 0o1777)  # like /tmp: others cannot rename or remove root's folder in it
    request = image_action.Request(job.job_id, disk.node, out_dir=out)
    details = image_action.image(store, request, who(state_dir))
    assert pathlib.Path(details["paths"]["image"]).parent == out / job.job_id


def test_an_out_directory_that_is_a_symlink_is_refused(faulty_disk, state, out, tmp_path):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    link = tmp_path / "link"
    link.symlink_to(out)
    request = image_action.Request(job.job_id, disk.node, out_dir=link)
    with pytest.raises(errors.RefusedError, match="is a symlink"):
        image_action.image(store, request, who(state_dir))
    assert list(out.iterdir()) == []


def test_a_planted_job_folder_under_out_is_refused(faulty_disk, state, out, tmp_path):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    (tmp_path / "theirs").mkdir()
    (out / job.job_id).symlink_to(tmp_path / "theirs")
    request = image_action.Request(job.job_id, disk.node, out_dir=out)
    with pytest.raises(errors.RefusedError, match="was not created by backupctl"):
        image_action.image(store, request, who(state_dir))
    assert list((tmp_path / "theirs").iterdir()) == []


def test_a_resumed_run_reopens_only_the_folder_it_created(faulty_disk, state, out):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    request = image_action.Request(job.job_id, disk.node, out_dir=out)
    first = image_action.image(store, request, who(state_dir))
    again = image_action.image(store, request, who(state_dir))  # the same folder: reopened
    assert again["sha256"] == first["sha256"]
    started = [event for event in store.events(job.job_id) if event.kind == "image.started"]
    assert [event.details["resume"] for event in started] == [False, True]
    folder = out / job.job_id
    folder.rename(out / "moved")
    folder.mkdir(mode=0o700)  # the same name, another directory
    (out / "moved" / f"{job.job_id}.map").rename(folder / f"{job.job_id}.map")
    with pytest.raises(errors.RefusedError, match="it was replaced"):
        image_action.image(store, request, who(state_dir))


def test_images_mapfiles_and_folders_are_root_only(faulty_disk, state, out):
    store, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    old_umask = os.umask(0o022)
    try:
        request = image_action.Request(job.job_id, disk.node, out_dir=out)
        details = image_action.image(store, request, who(state_dir))
    finally:
        os.umask(old_umask)
    folder = pathlib.Path(details["paths"]["image"]).parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert {path.name for path in files} >= {f"{job.job_id}.img", f"{job.job_id}.map"}
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == {
        path.name: 0o600 for path in files
    }
    assert stat.S_IMODE((state_dir / "state.db").stat().st_mode) == 0o600


def test_an_out_that_is_a_block_device_is_a_one_line_usage_error(
    faulty_disk, state, make_loop, tmp_path
):
    _, job, state_dir = state
    disk = faulty_disk(size=4 * MIB)
    backing = tmp_path / "other.img"
    backing.write_bytes(bytes(MIB))
    other = make_loop(backing)
    environment = {
        **os.environ,
        "BACKUPCTL_STATE_DIR": str(state_dir),
        "BACKUPCTL_CONFIG": "/nonexistent",
    }
    argv = (str(BACKUPCTL), "media", "image", disk.node, "--job", job.job_id, "--out", other)
    result = subprocess.run(
        argv, env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"backupctl: error: --out {other} is not a directory"
    ]
