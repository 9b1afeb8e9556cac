"""The master secret comes from a private file or a command, and never leaks into messages."""

from __future__ import annotations

import base64
import os
import pathlib
import shlex
import sys

import pytest

from backupctl.errors import ConfigError
from backupctl.keys import master_secret
from backupctl.keys.errors import AlreadyExists, KeysError, UnsafeFile
from tests.fixtures.requirements import skip_or_fail

CONTENT = "TOP-SECRET-master-value"


def _key_file(
    tmp_path: pathlib.Path, mode: int = 0o600, content: str = CONTENT + "\n"
) -> pathlib.Path:
    path = tmp_path / "master.key"
    path.write_text(content)
    os.chmod(path, mode)
    return path


def test_private_file_is_read_and_stripped(tmp_path):
    secret = master_secret.load_master_secret(key_file=_key_file(tmp_path), key_command=None)
    assert secret.reveal() == CONTENT


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o601, 0o610])
def test_file_accessible_to_group_or_other_is_refused(tmp_path, mode):
    path = _key_file(tmp_path, mode)
    with pytest.raises(KeysError) as caught:
        master_secret.load_master_secret(key_file=path, key_command=None)
    message = str(caught.value)
    assert str(path) in message and f"{mode:04o}" in message
    assert CONTENT not in message


def test_file_owned_by_another_user_is_refused(tmp_path):
    if os.geteuid() != 0:
        skip_or_fail("chown to another user needs root")
    path = _key_file(tmp_path)
    os.chown(path, 65534, 65534)
    with pytest.raises(KeysError, match="owned by uid 65534"):
        master_secret.load_master_secret(key_file=path, key_command=None)


def test_symlink_directory_missing_and_empty_files_are_refused(tmp_path):
    target = _key_file(tmp_path)
    link = tmp_path / "link.key"
    link.symlink_to(target)
    with pytest.raises(UnsafeFile, match="is a symbolic link; refusing to read it"):
        master_secret.load_master_secret(key_file=link, key_command=None)
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises(UnsafeFile, match="is a directory; refusing to read it"):
        master_secret.load_master_secret(key_file=directory, key_command=None)
    with pytest.raises(KeysError, match="master-keygen"):
        master_secret.load_master_secret(key_file=tmp_path / "missing", key_command=None)
    empty = tmp_path / "empty.key"
    empty.touch(mode=0o600)
    with pytest.raises(KeysError, match="is empty"):
        master_secret.load_master_secret(key_file=empty, key_command=None)


def test_command_stdout_is_the_secret(tmp_path):
    script = tmp_path / "print secret.sh"
    script.write_text(f"#!/bin/sh\nprintf '  {CONTENT}\\n'\n")
    script.chmod(0o700)
    secret = master_secret.load_master_secret(key_file=None, key_command=shlex.quote(str(script)))
    assert secret.reveal() == CONTENT


def test_failing_command_message_has_no_stdout(capfd):
    command = f"sh -c 'printf {CONTENT}; exit 3'"
    with pytest.raises(KeysError) as caught:
        master_secret.load_master_secret(key_file=None, key_command=command)
    assert "exit status 3" in str(caught.value)
    assert CONTENT not in str(caught.value)
    assert CONTENT not in repr(caught.value)
    captured = capfd.readouterr()
    assert CONTENT not in captured.out + captured.err


def test_command_not_found_and_empty_output():
    with pytest.raises(KeysError, match="not found"):
        master_secret.load_master_secret(key_file=None, key_command="/nonexistent/keytool --x")
    with pytest.raises(KeysError, match="is empty"):
        master_secret.load_master_secret(key_file=None, key_command="true")


def test_command_timeout(monkeypatch):
    monkeypatch.setattr(master_secret, "COMMAND_TIMEOUT_SECONDS", 0.3)
    with pytest.raises(KeysError, match="did not finish"):
        master_secret.load_master_secret(
            key_file=None, key_command=f"{sys.executable} -c 'import time; time.sleep(5)'"
        )


def test_exactly_one_source_is_required(tmp_path):
    with pytest.raises(ConfigError, match="no master secret configured"):
        master_secret.load_master_secret(key_file=None, key_command=None)
    with pytest.raises(ConfigError, match="only one"):
        master_secret.load_master_secret(key_file=_key_file(tmp_path), key_command="true")


def test_generated_key_file_is_private_random_and_never_overwritten(tmp_path):
    path = tmp_path / "sub" / "master.key"
    old_umask = os.umask(0)
    try:
        master_secret.generate_master_key_file(path)
    finally:
        os.umask(old_umask)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode(path.read_text().strip(), validate=True)) == 32
    before = path.read_bytes()
    with pytest.raises(AlreadyExists, match="refusing to overwrite") as caught:
        master_secret.generate_master_key_file(path)
    assert caught.value.exit_code == 4
    assert path.read_bytes() == before
    assert (
        master_secret.load_master_secret(key_file=path, key_command=None).reveal()
        == before.decode().strip()
    )
    other = tmp_path / "other.key"
    master_secret.generate_master_key_file(other)
    assert other.read_bytes() != before


def test_unsplittable_command_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot be split into words"):
        master_secret.load_master_secret(key_file=None, key_command="keytool 'unclosed")


def test_key_file_that_cannot_be_written_is_a_keystore_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(KeysError, match="directory .* cannot be created"):
        master_secret.generate_master_key_file(blocker / "master.key")
    with pytest.raises(KeysError, match="cannot be written"):
        master_secret.generate_master_key_file(tmp_path / ("x" * 300))  # name too long


@pytest.mark.timeout(30)  # a FIFO or /dev/zero read without bound would never return
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("symlink to /dev/zero", "is a symbolic link"),
        ("fifo", "is a FIFO"),
        ("oversized", "is larger than 65536 bytes"),
    ],
)
def test_key_file_read_is_bounded_and_refuses_non_regular_files(tmp_path, kind, message):
    path = tmp_path / "master.key"
    if kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path, 0o600)
    else:
        path.write_bytes(b"A" * (master_secret.MAX_SECRET_BYTES + 1))
        path.chmod(0o600)
    with pytest.raises(UnsafeFile, match=message) as caught:
        master_secret.load_master_secret(key_file=path, key_command=None)
    assert str(path) in str(caught.value) and caught.value.exit_code == 4
