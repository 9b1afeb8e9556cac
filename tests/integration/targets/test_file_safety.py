"""Customer data stays root-only and a planted symlink is never followed.

Copied repository files are created 0600 and new directories 0700, at a local location and over
SFTP (the real OpenSSH server writes into a local directory we can stat). A local write or read
never follows a symlink planted at the file's name, at its temporary name or at a directory on
the way; a non-regular file at the final name is refused, never replaced.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import stat

import pytest

from targets import errors, local, registry, specs, store

PACK = b"pack content"
NAME = hashlib.sha256(PACK).hexdigest()
PACK_PATH = f"data/{NAME[:2]}/{NAME}"


def _mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def outside(tmp_path) -> pathlib.Path:
    """A file outside the repository that a planted symlink points at."""
    target = tmp_path / "outside" / "secret"
    target.parent.mkdir()
    target.write_bytes(b"not yours")
    return target


@pytest.fixture
def repository(tmp_path) -> local.LocalStore:
    return registry.open_store(specs.LocalSpec(name="disk", path=tmp_path / "repo"))


def _assert_modes(root: pathlib.Path) -> None:
    assert _mode(root / PACK_PATH) == 0o600
    assert _mode(root / "config") == 0o600
    assert _mode(root / "data") == 0o700
    assert _mode(root / "data" / NAME[:2]) == 0o700


def test_local_copies_are_0600_in_0700_directories(repository, tmp_path):
    old_umask = os.umask(0o022)  # the usual umask: without explicit modes files would be 0644
    try:
        repository.write(PACK_PATH, PACK)
        repository.write("config", b"config")
    finally:
        os.umask(old_umask)
    _assert_modes(tmp_path / "repo")
    assert _mode(tmp_path / "repo") == 0o700


def test_sftp_copies_are_0600_in_0700_directories(sshd_server, tmp_path):
    root = tmp_path / "sftp-repo"
    root.mkdir()
    with registry.open_store(sshd_server.make_spec("sftp", root)) as opened:
        opened.write(PACK_PATH, PACK)
        opened.write("config", b"config")
    _assert_modes(root)


def test_write_refuses_a_symlink_at_the_final_name(repository, tmp_path, outside):
    planted = tmp_path / "repo" / PACK_PATH
    planted.parent.mkdir(parents=True)
    planted.symlink_to(outside)
    with pytest.raises(errors.TargetError, match="not a regular file"):
        repository.write(PACK_PATH, PACK)
    assert planted.is_symlink() and outside.read_bytes() == b"not yours"


def test_write_never_follows_a_symlink_at_the_temporary_name(
    repository, tmp_path, outside, monkeypatch
):
    monkeypatch.setattr(store.secrets, "token_hex", lambda _size: "0123456789abcdef")
    directory = tmp_path / "repo" / "data" / NAME[:2]
    directory.mkdir(parents=True)
    (directory / store.temporary_name(NAME)).symlink_to(outside)
    with pytest.raises(errors.TargetError, match="disk"):
        repository.write(PACK_PATH, PACK)
    assert outside.read_bytes() == b"not yours"
    assert not (directory / NAME).exists()


def test_write_never_follows_a_symlinked_directory(repository, tmp_path, outside):
    (tmp_path / "repo" / "data").mkdir(parents=True)
    (tmp_path / "repo" / "data" / NAME[:2]).symlink_to(outside.parent)
    with pytest.raises(errors.TargetError, match="disk"):
        repository.write(PACK_PATH, PACK)
    assert sorted(p.name for p in outside.parent.iterdir()) == ["secret"]


def test_read_and_listing_never_follow_a_symlinked_file(repository, tmp_path, outside):
    repository.write("config", b"config")
    planted = tmp_path / "repo" / PACK_PATH
    planted.parent.mkdir(parents=True)
    planted.symlink_to(outside)
    assert repository.list_files() == {"config": 6}
    with pytest.raises(errors.TargetError, match="disk") as raised:
        repository.read(PACK_PATH)
    assert not isinstance(raised.value, errors.FileMissing)
    assert b"not yours" not in str(raised.value).encode()


def test_read_of_a_fifo_is_refused_without_blocking(repository, tmp_path):
    repository.write("config", b"config")
    fifo = tmp_path / "repo" / "index" / hashlib.sha256(b"fifo").hexdigest()
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with pytest.raises(errors.TargetError, match="not a regular file"):
        repository.read(f"index/{fifo.name}")
