"""A location that comes back after an outage is caught up from an SFTP location that is being
written in the same run, through the ``backupctl`` CLI, without hanging.

The old SftpStore shared one paramiko SFTP client between the replicator's main thread (reading
the catch-up files) and the SFTP location's writer thread; both waited forever for answers the
other had consumed. Real parts: restic, OpenSSH (``sshd_server``) and moto (``s3_server``).
"""

from __future__ import annotations

import subprocess

from tests.fixtures import backup_env as backup_env_module

DEADLINE_SECONDS = 240


def _backup(env) -> subprocess.CompletedProcess:
    """Run ``backupctl backup``; fail the test (instead of hanging it) past the deadline."""
    argv = (str(backup_env_module.BACKUPCTL), "--config", str(env.config_path), "backup", "--json")
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=DEADLINE_SECONDS
        )
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(
            f"backupctl backup hung for {DEADLINE_SECONDS}s:\n{expired.stderr}"
        ) from None


def _repository_files(env) -> dict[str, set[str]]:
    """Return location -> the repository's kept files (config, keys, data, index, snapshots)."""
    from targets import store

    def kept(names):
        return {name for name in names if store.is_repository_file(name)}

    disk = env.root / "disk" / env.source
    sftp = env.root / "sftp-root" / env.source
    prefix = f"backups/{env.source}/"
    pages = (
        env.s3.client().get_paginator("list_objects_v2").paginate(Bucket=env.bucket, Prefix=prefix)
    )
    return {
        "disk": kept(p.relative_to(disk).as_posix() for p in disk.rglob("*") if p.is_file()),
        "sftp-de": kept(p.relative_to(sftp).as_posix() for p in sftp.rglob("*") if p.is_file()),
        "s3-de": kept(
            item["Key"][len(prefix) :] for page in pages for item in page.get("Contents", ())
        ),
    }


def test_location_back_after_an_outage_is_caught_up_from_sftp_without_hanging(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    (env.root / "disk").rename(env.root / "disk-away")  # the local disk is gone
    first = _backup(env)
    assert first.returncode != 0, "a backup with a location down must not report success"
    assert "disk" in first.stdout + first.stderr

    (env.root / "disk-away").rename(env.root / "disk")  # and back
    (env.root / "data" / "after-outage.txt").write_text("written while the disk was away\n")
    second = _backup(env)
    assert second.returncode == 0, second.stdout + second.stderr

    files = _repository_files(env)
    assert any(name.startswith("snapshots/") for name in files["disk"])
    assert files["disk"] == files["sftp-de"] == files["s3-de"]
