"""A restore from an SFTP location logs in once: `restic ls` and `restic restore` share one ssh
connection (targets/ssh_master.py) that lives as long as the caller's block, on the session's
real OpenSSH server and both restic versions."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess

from backupctl import config as config_module
from backupctl.actions import snapshot_access


def _control_path(options: tuple[str, ...]) -> str | None:
    found = re.search(r"ControlPath=(\S+)", " ".join(options))
    return found.group(1) if found else None


def _answers(path: str, login: str) -> bool:
    check = ("ssh", "-S", path, "-O", "check", login)
    return subprocess.run(check, capture_output=True, timeout=10, check=False).returncode == 0


def test_listing_keeps_one_login_open_for_the_restore(backup_env):
    backup_env.backupctl("init", check=True)
    backup_env.backupctl("backup", check=True)
    (backup_env.root / "disk").rename(backup_env.root / "disk-gone")  # sftp-de answers first
    snapshots = json.loads(backup_env.restic("sftp-de", "snapshots", "--json").stdout)
    config = config_module.load(backup_env.config_path)
    source = config.sources[backup_env.source]
    login = f"{backup_env.ssh.user}@{backup_env.ssh.host}"
    with contextlib.ExitStack() as keep:
        opened, nodes = snapshot_access.first_listing(
            config, source, snapshots[-1]["id"], keep=keep
        )
        assert opened.location == "sftp-de"
        backed_up = [p for p in (backup_env.root / "data").rglob("*") if p.suffix != ".tmp"]
        files = [node for node in nodes if node.type == "file"]
        assert len(files) == len([p for p in backed_up if p.is_file()]) > 0
        path = _control_path(opened.repository.options)
        assert path is not None and _answers(path, login)
    assert not _answers(path, login)
    alone, _ = snapshot_access.first_listing(config, source, snapshots[-1]["id"])
    assert alone.location == "sftp-de"
    assert _control_path(alone.repository.options) is None  # no block to keep it: not shared
