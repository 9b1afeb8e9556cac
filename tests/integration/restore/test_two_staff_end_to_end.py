"""End to end with two real staff accounts on this machine, through the installed command.

Each staff command runs as root with the kernel's login uid set to the staff account, which is
what `sudo backupctl ...` after a real login gives (pam_loginuid sets the login uid at login and
sudo keeps it). The test sets the login uid of the child process only (writing
/proc/self/loginuid needs root and an unset login uid); the test process's own stays unset.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pwd
import secrets
import shutil
import stat
import subprocess

import pytest

from backupctl import state
from backupctl.audit import log
from tests.fixtures import requirements
from tests.fixtures.restore_env import BACKUPCTL, PASSPHRASE, make_restore_env

SET_LOGINUID = 'echo "$1" > /proc/self/loginuid && shift && exec "$@"'


def _can_set_loginuid() -> bool:
    if os.geteuid() != 0 or not shutil.which("useradd"):
        return False
    probe = subprocess.run(("sh", "-c", SET_LOGINUID, "sh", "0", "true"), check=False)
    return probe.returncode == 0


@pytest.fixture
def staff_accounts():
    """Create two staff accounts (requester, approver) for this test and remove them after."""
    if not _can_set_loginuid():
        requirements.skip_or_fail("needs root, useradd and a settable /proc/self/loginuid")
    suffix = secrets.token_hex(3)
    names = (f"bctl-req-{suffix}", f"bctl-apr-{suffix}")
    for name in names:
        subprocess.run(("useradd", "--create-home", "--shell", "/bin/sh", name), check=True)
    try:
        yield names
    finally:
        for name in names:
            subprocess.run(("userdel", "--remove", name), check=False, capture_output=True)


def _as(
    env, account: str, *args: str, passphrase: bool = False, expect: int = 0
) -> subprocess.CompletedProcess:
    """Run backupctl as root with ``account``'s login uid, the passphrase on a pipe."""
    uid = str(pwd.getpwnam(account).pw_uid)
    fds: tuple[int, ...] = ()
    extra: tuple[str, ...] = ()
    if passphrase:
        read_end, write_end = os.pipe()
        os.write(write_end, PASSPHRASE.encode() + b"\n")
        os.close(write_end)
        fds, extra = (read_end,), ("--passphrase-fd", str(read_end))
    try:
        result = subprocess.run(
            (
                "sh",
                "-c",
                SET_LOGINUID,
                "sh",
                uid,
                str(BACKUPCTL),
                "--config",
                str(env.config_path),
                *args,
                *extra,
            ),
            capture_output=True,
            text=True,
            timeout=300,
            pass_fds=fds,
            check=False,
        )
    finally:
        for fd in fds:
            os.close(fd)
    assert result.returncode == expect, f"{account}: backupctl {args}: {result.stderr}"
    return result


def test_request_approve_run_by_two_real_accounts(tmp_path, restic_binary, staff_accounts):
    requester, approver = staff_accounts
    env = make_restore_env(tmp_path, restic_binary)
    text = env.config_path.read_text()
    text = text.replace("[access.staff.alice]", f"[access.staff.{requester}]")
    env.config_path.write_text(text.replace("[access.staff.bob]", f"[access.staff.{approver}]"))
    for account in staff_accounts:
        public = _as(env, account, "staff", "enroll", passphrase=True).stdout
        key_file = pathlib.Path(pwd.getpwnam(account).pw_dir) / ".config/backupctl/signing-key"
        status = key_file.lstat()
        assert status.st_uid == pwd.getpwnam(account).pw_uid
        assert stat.S_IMODE(status.st_mode) == 0o600
        (tmp_path / f"{account}.pub").write_text(public)
        env.backupctl("staff", "register", account, str(tmp_path / f"{account}.pub"))
    browsed = _as(env, requester, "browse", "shop", str(env.root / "data" / "dir0")).stdout
    assert "file-0000.bin" in browsed
    destination = env.root / "restores" / "ticket-4711"
    request = json.loads(
        _as(
            env,
            requester,
            "restore",
            "request",
            "shop",
            "--snapshot",
            env.snapshot_id()[:12],
            "--to",
            str(destination),
            "--reason",
            "customer deleted a folder",
            "--ticket",
            "T-4711",
            "--json",
            passphrase=True,
        ).stdout
    )
    assert request["requester"] == requester and len(request["snapshot"]) == 64
    own = _as(env, requester, "restore", "approve", request["id"], passphrase=True, expect=4)
    assert own.stderr.count("\n") == 1 and "lacks the role approver" in own.stderr
    _as(env, approver, "restore", "approve", request["id"], passphrase=True)
    run = json.loads(_as(env, requester, "restore", "run", request["id"], "--json").stdout)

    manifest = json.loads(pathlib.Path(run["manifest"]).read_text())
    originals = {
        str(p): p for p in (env.root / "data").rglob("*") if p.is_file() and not p.is_symlink()
    }
    assert {entry["path"] for entry in manifest["files"]} == set(originals)
    for entry in manifest["files"]:
        data = originals[entry["path"]].read_bytes()
        assert (entry["size"], entry["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
        assert (destination / entry["path"].lstrip("/")).read_bytes() == data

    story = [
        (record.actor, record.action, record.outcome)
        for record in log.records(state.db_path(env.config().state_dir))
        if record.subjects.get("request") == request["id"]
    ]
    assert story == [
        (requester, "restore.request", "ok"),
        (requester, "restore.refused", "denied"),
        (approver, "restore.approve", "ok"),
        (requester, "restore.run", "started"),
        (requester, "restore.run", "ok"),
    ]
