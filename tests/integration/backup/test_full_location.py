"""A primary location that is full fails over to the next location, as a read-only one does.
The full location is a real 2 MiB tmpfs (needs root); the second a local directory."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from backupctl.keys import master_secret
from tests.fixtures.backup_env import write_tree
from tests.fixtures.cli import run_backupctl
from tests.fixtures.requirements import skip_or_fail


@pytest.fixture
def small_tmpfs(tmp_path):
    if os.geteuid() != 0:
        skip_or_fail("mounting a tmpfs needs root")
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    subprocess.run(
        ("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mountpoint)),
        check=True,
        capture_output=True,
    )
    yield mountpoint
    subprocess.run(("umount", "-l", str(mountpoint)), check=True, capture_output=True)


def test_a_full_primary_fails_over_to_the_next_location(tmp_path, small_tmpfs):
    master_secret.generate_master_key_file(tmp_path / "master.key")
    (tmp_path / "disk").mkdir()
    write_tree(tmp_path / "data", files=12, size=400_000, seed=9)  # 4.8 MB of random bytes
    config = tmp_path / "c.toml"
    config.write_text(
        f'[backupctl]\nstate_dir = "{tmp_path}/state"\nkeystore = "{tmp_path}/ks.bin"\n'
        f'master_key_file = "{tmp_path}/master.key"\n'
        f'[locations.usb]\nkind = "local"\npath = "{small_tmpfs}"\ncountry = "NL"\n'
        f"offsite = false\n"
        f'[locations.disk]\nkind = "local"\npath = "{tmp_path}/disk"\ncountry = "BE"\n'
        f"offsite = true\n"
        f'[sources.books]\npaths = ["{tmp_path}/data"]\ntenant = "t"\n'
        f'locations = ["usb", "disk"]\n'
    )

    def backupctl(*args):
        return run_backupctl(config, *args)

    init = backupctl("init", "--json")
    assert init.returncode == 0, init.stdout + init.stderr
    assert json.loads(init.stdout)["sources"][0]["created_at"] == "usb"

    backup = backupctl("backup", "--json")
    assert backup.returncode == 1, backup.stdout + backup.stderr
    (source,) = json.loads(backup.stdout)["sources"]
    assert source["primary"] == "disk" and source["snapshot_id"]
    results = {(r["location"], r["step"]): r for r in source["locations"]}
    assert results[("disk", "backup")]["ok"]
    assert not results[("usb", "replicate")]["ok"]
    assert "no-space" in results[("usb", "replicate")]["reason"]
