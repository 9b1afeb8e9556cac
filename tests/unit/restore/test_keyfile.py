"""The private key file is readable only by its owner: others' modes, symlinks and other owners
are refused (backupctl/staff/keyfile.py)."""

from __future__ import annotations

import os

import pytest

from backupctl.identity import Actor
from backupctl.keys import signing
from backupctl.staff import keyfile

ME = Actor(os.getuid(), "me", "test")


def test_a_new_key_file_is_0600_in_0700_directories(tmp_path):
    path = tmp_path / "home" / ".config" / "backupctl" / "signing-key"
    keyfile.write_new(ME, path, b"key")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert keyfile.read(ME, path) == b"key"
    with pytest.raises(signing.SigningKeyError, match="already exists"):
        keyfile.write_new(ME, path, b"other")


def test_a_key_file_others_may_read_is_refused(tmp_path):
    path = tmp_path / "signing-key"
    keyfile.write_new(ME, path, b"key")
    path.chmod(0o640)
    with pytest.raises(signing.SigningKeyError, match="may be read by others"):
        keyfile.read(ME, path)


def test_a_symlinked_key_file_is_refused(tmp_path):
    real = tmp_path / "real"
    keyfile.write_new(ME, real, b"key")
    link = tmp_path / "signing-key"
    link.symlink_to(real)
    with pytest.raises(signing.SigningKeyError, match="symbolic link"):
        keyfile.read(ME, link)


def test_a_key_file_of_another_account_is_refused(tmp_path):
    path = tmp_path / "signing-key"
    keyfile.write_new(ME, path, b"key")
    someone_else = Actor(os.getuid() + 4242, "other", "test")
    if os.geteuid() == 0:
        os.chown(path, someone_else.uid, -1)
        someone_else = Actor(os.getuid(), "me", "test")
    with pytest.raises(signing.SigningKeyError, match="not owned by"):
        keyfile.read(someone_else, path)


def test_a_missing_key_file_says_to_enroll(tmp_path):
    with pytest.raises(signing.SigningKeyError, match="staff enroll"):
        keyfile.read(ME, tmp_path / "none")


def test_a_restore_root_others_may_write_is_refused(tmp_path):
    from backupctl.errors import RefusedError
    from backupctl.restore import place

    root = tmp_path / "restores"
    root.mkdir()
    root.chmod(0o777)
    with pytest.raises(RefusedError, match="may be changed by others"):
        place.prepare_destination(root, root / "case")
    root.chmod(0o700)
    place.prepare_destination(root, root / "case")
    assert (root / "case").is_dir()
