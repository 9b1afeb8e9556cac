"""Key files are read bounded and written without following symlinks or replacing non-files."""

from __future__ import annotations

import os
import pathlib
import stat
import threading

import pytest

from backupctl.keys import securefile
from backupctl.keys.errors import UnsafeFile
from tests.fixtures.requirements import skip_or_fail

LIMIT = 1024


def _fifo(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "fifo"
    os.mkfifo(path, 0o600)
    return path


def _device(tmp_path: pathlib.Path) -> pathlib.Path:
    """A character device node with the numbers of /dev/null, made in the temp directory."""
    path = tmp_path / "null-device"
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def _symlink(tmp_path: pathlib.Path, target: str | pathlib.Path) -> pathlib.Path:
    path = tmp_path / "link"
    path.symlink_to(target)
    return path


def _directory(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "dir"
    path.mkdir()
    return path


def _read_with_deadline(path: pathlib.Path, seconds: float = 10.0) -> BaseException | bytes:
    """Run read_bounded in a thread; fail the test when it does not return within ``seconds``
    (a FIFO without writer blocks an ordinary open forever)."""
    outcome: list[BaseException | bytes] = []

    def read() -> None:
        try:
            outcome.append(securefile.read_bounded(path, limit=LIMIT, what="test file"))
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome.append(error)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():  # release the blocked reader, then fail
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(descriptor)
        pytest.fail(f"read_bounded({path}) did not return within {seconds} s")
    return outcome[0]


def test_regular_file_within_the_bound_is_read(tmp_path):
    path = tmp_path / "key"
    path.write_bytes(b"x" * LIMIT)
    assert securefile.read_bounded(path, limit=LIMIT, what="test file") == b"x" * LIMIT


def test_file_over_the_bound_is_refused_before_reading(tmp_path):
    path = tmp_path / "big"
    with open(path, "wb") as stream:
        stream.truncate(LIMIT + 1)  # sparse: no need to write it
    with pytest.raises(UnsafeFile, match=f"test file {path} is larger than {LIMIT} bytes"):
        securefile.read_bounded(path, limit=LIMIT, what="test file")


def test_symlink_to_dev_zero_is_refused_without_reading(tmp_path):
    outcome = _read_with_deadline(_symlink(tmp_path, "/dev/zero"))
    assert isinstance(outcome, UnsafeFile) and "is a symbolic link" in str(outcome)
    assert outcome.exit_code == 4


def test_fifo_is_refused_promptly(tmp_path):
    outcome = _read_with_deadline(_fifo(tmp_path))
    assert isinstance(outcome, UnsafeFile) and "is a FIFO" in str(outcome)


def test_directory_and_symlink_to_a_regular_file_are_refused(tmp_path):
    target = tmp_path / "real"
    target.write_bytes(b"data")
    for path, kind in (
        (_directory(tmp_path), "a directory"),
        (_symlink(tmp_path, target), "a symbolic link"),
    ):
        with pytest.raises(UnsafeFile, match=kind):
            securefile.read_bounded(path, limit=LIMIT, what="test file")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        securefile.read_bounded(tmp_path / "none", limit=LIMIT, what="test file")


def _assert_refused_and_unchanged(path: pathlib.Path, writer) -> None:
    before = os.lstat(path)
    with pytest.raises(UnsafeFile, match="refusing to replace it") as caught:
        writer(path, b"new content")
    assert caught.value.exit_code == 4
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (
        before.st_mode,
        before.st_ino,
        before.st_rdev,
    )
    assert [p.name for p in path.parent.iterdir() if ".tmp-" in p.name] == []


@pytest.mark.parametrize("make", [_fifo, _directory])
def test_atomic_write_refuses_a_fifo_or_directory(tmp_path, make):
    _assert_refused_and_unchanged(make(tmp_path), securefile.write_atomic)


def test_atomic_write_refuses_a_symlink_and_leaves_its_target_alone(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"target content")
    link = _symlink(tmp_path, target)
    _assert_refused_and_unchanged(link, securefile.write_atomic)
    assert link.is_symlink() and target.read_bytes() == b"target content"


def test_atomic_write_refuses_a_device_node(tmp_path):
    if os.geteuid() != 0:
        skip_or_fail("mknod of a device node needs root")
    device = _device(tmp_path)
    _assert_refused_and_unchanged(device, securefile.write_atomic)
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_atomic_write_replaces_a_regular_file_with_mode_0600(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"old")
    path.chmod(0o644)
    securefile.write_atomic(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_new_never_follows_a_dangling_symlink(tmp_path):
    link = _symlink(tmp_path, tmp_path / "would-be-created")
    with pytest.raises(FileExistsError):
        securefile.write_new(link, b"data")
    assert not (tmp_path / "would-be-created").exists()


def test_lock_file_symlink_is_refused_and_its_target_not_created(tmp_path):
    target = tmp_path / "elsewhere"
    (tmp_path / "keystore.bin.lock").symlink_to(target)
    with pytest.raises(UnsafeFile, match="lock file"), securefile.locked(tmp_path / "keystore.bin"):
        pass
    assert not target.exists()
