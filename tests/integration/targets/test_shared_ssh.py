"""The shared ssh connection of an SFTP location (targets/ssh_master.py), on the session's real
OpenSSH server: restic runs over it, it ends with its block, and a location that is down shares
nothing and fails nothing."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from targets import sftp, ssh_master
from tests.fixtures import ports
from tests.integration.targets import restic_runner

PASSWORD = "shared-ssh-test-password"


def _control_path(store: sftp.SftpStore) -> str | None:
    found = re.search(r"ControlPath=(\S+)", " ".join(store.restic_options()))
    return found.group(1) if found else None


def _master_answers(path: str, login: str) -> bool:
    check = ("ssh", "-S", path, "-O", "check", login)
    return subprocess.run(check, capture_output=True, timeout=10, check=False).returncode == 0


def _masters_on(path: str) -> list[str]:
    found = subprocess.run(("pgrep", "-f", "-a", path), capture_output=True, text=True, check=False)
    return found.stdout.splitlines()


def test_restic_runs_over_the_shared_connection(sshd_server, tmp_path):
    store = sftp.SftpStore(sshd_server.make_spec("far", tmp_path / "repo"))
    options = {"password": PASSWORD, "home": tmp_path}
    with store.shared_ssh():
        path = _control_path(store)
        assert path is not None
        assert _master_answers(path, f"{sshd_server.user}@{sshd_server.host}")
        # the same options with a port nothing listens on: restic gets through only over the
        # shared connection, since its ssh never opens one of its own while the master answers
        store.spec = dataclasses.replace(store.spec, port=ports.free_port())
        restic_runner.run_restic(store, "init", **options)
        restic_runner.run_restic(store, "backup", str(tmp_path / "repo" / "config"), **options)
        assert restic_runner.snapshot_count(store, **options) == 1
    assert _control_path(store) is None
    with pytest.raises(AssertionError, match="failed"):  # alone, restic meets the dead port
        restic_runner.run_restic(store, "snapshots", **options)


def test_the_master_ends_with_its_block_even_when_the_block_fails(sshd_server, tmp_path):
    store = sftp.SftpStore(sshd_server.make_spec("far", tmp_path / "repo"))
    with pytest.raises(RuntimeError), store.shared_ssh():
        path = _control_path(store)
        assert path is not None and _masters_on(path)
        assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700  # whoever reaches it
        raise RuntimeError("the action failed")  # speaks as the location's user
    assert not _master_answers(path, f"{sshd_server.user}@{sshd_server.host}")
    deadline = time.monotonic() + 10
    while _masters_on(path) and time.monotonic() < deadline:
        time.sleep(0.05)  # `ssh -O exit` is answered before the master process is gone
    assert _masters_on(path) == []
    assert not os.path.exists(os.path.dirname(path))


def _private_temporary(request, monkeypatch, prefix: str) -> pathlib.Path:
    """A TMPDIR of this test's own, short enough for a socket path (pytest's tmp_path is not:
    a socket there would be refused for its length, whatever the test is about)."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(ssh_master.tempfile, "tempdir", None)  # tempfile caches TMPDIR
    return folder


def test_a_location_that_is_down_shares_nothing(sshd_server, tmp_path, monkeypatch, request):
    temporary = _private_temporary(request, monkeypatch, "bctl-t-")
    store = sftp.SftpStore(sshd_server.make_down_spec("far", tmp_path / "repo"))
    started = time.monotonic()
    with store.shared_ssh():
        assert _control_path(store) is None
    assert time.monotonic() - started < ssh_master.READY_SECONDS
    assert list(temporary.iterdir()) == []


def test_a_master_still_logging_in_is_not_waited_for_and_is_ended(tmp_path):
    """A host that accepts the connection and says nothing (a hung server): the block goes on
    after READY_SECONDS, and no ssh is left when it ends."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        spec = sftp.SftpSpec(
            name="far",
            host="127.0.0.1",
            port=silent.getsockname()[1],
            user="root",
            path=str(tmp_path / "repo"),
            identity_file=tmp_path / "no-key",
            known_hosts=tmp_path / "no-known-hosts",
            connect_timeout=30.0,
        )
        store = sftp.SftpStore(spec)
        started = time.monotonic()
        with store.shared_ssh():
            waited = time.monotonic() - started
            path = _control_path(store)
            assert path is not None and _masters_on(path)  # still logging in, in the background
        assert ssh_master.READY_SECONDS <= waited < ssh_master.READY_SECONDS + 2
    assert _masters_on(path) == []
    assert not os.path.exists(os.path.dirname(path))


def test_a_socket_path_restic_could_misread_is_not_shared(
    sshd_server, tmp_path, monkeypatch, request
):
    temporary = _private_temporary(request, monkeypatch, "a b-")
    store = sftp.SftpStore(sshd_server.make_spec("far", tmp_path / "repo"))
    with store.shared_ssh():
        assert _control_path(store) is None
    assert list(temporary.iterdir()) == []
