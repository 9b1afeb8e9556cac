"""A location that is down at `init` (an unmounted disk) is caught up by the next backup, and is
then a complete repository that plain restic can check and restore from."""

from __future__ import annotations

import json
import subprocess

from backupctl.keys import master_secret
from backupctl.keys import store as keystore
from tests.fixtures.cli import run_backupctl as _backupctl


def test_location_down_at_init_is_caught_up_by_the_next_backup(tmp_path, restic_binary):
    master = tmp_path / "master.key"
    master_secret.generate_master_key_file(master)
    (tmp_path / "disk-a").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "invoice.txt").write_text("invoice 2026-001\n")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[backupctl]\nstate_dir = "{tmp_path}/state"\nkeystore = "{tmp_path}/ks.bin"\n'
        f'master_key_file = "{master}"\nrestic = "{restic_binary}"\n'
        f'[locations.a]\nkind = "local"\npath = "{tmp_path}/disk-a"\ncountry = "NL"\n'
        f"offsite = false\n"
        f'[locations.b]\nkind = "local"\npath = "{tmp_path}/disk-b"\ncountry = "BE"\n'
        f"offsite = true\n"
        f'[sources.books]\npaths = ["{tmp_path}/data"]\ntenant = "t"\nlocations = ["a", "b"]\n'
    )

    init = _backupctl(config, "init", "--json")  # disk-b is not mounted: its root is missing
    assert init.returncode == 1, init.stdout + init.stderr
    results = {r["location"]: r for r in json.loads(init.stdout)["sources"][0]["locations"]}
    assert results["a"]["ok"] and not results["b"]["ok"]
    assert "disk-b" in results["b"]["reason"]
    assert not (tmp_path / "disk-b").exists(), "a missing disk must not be created on the root fs"

    (tmp_path / "disk-b").mkdir()  # the disk is back
    backup = _backupctl(config, "backup", "--json")
    assert backup.returncode == 0, backup.stdout + backup.stderr

    password = (
        keystore.Keystore.open(
            tmp_path / "ks.bin", master_secret.load_master_secret(key_file=master, key_command=None)
        )
        .get("repo/books")
        .reveal()
    )
    password_file = tmp_path / "pw"
    password_file.write_text(password)
    restic = (
        restic_binary,
        "-r",
        str(tmp_path / "disk-b" / "books"),
        "--password-file",
        str(password_file),
        "--no-cache",
    )
    assert (
        subprocess.run(
            (*restic, "check", "--read-data"), capture_output=True, check=False
        ).returncode
        == 0
    )
    restored = tmp_path / "restored"
    subprocess.run(
        (*restic, "restore", "latest", "--target", str(restored)), check=True, capture_output=True
    )
    copy = restored / str(tmp_path / "data" / "invoice.txt").lstrip("/")
    assert copy.read_text() == "invoice 2026-001\n"
