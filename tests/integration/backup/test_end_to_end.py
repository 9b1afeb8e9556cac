"""End to end through the installed `backupctl` command, against real restic, a real OpenSSH
server and an S3-compatible server: init, backup to three locations, one location down during a
run, catch-up on the next run, and a byte-for-byte restore with plain restic from each location."""

from __future__ import annotations

import filecmp
import json

from tests.fixtures import ports


def _snapshot_files(env, location: str) -> set[str]:
    result = env.restic(location, "snapshots", "--json")
    assert result.returncode == 0, result.stderr
    return {entry["id"] for entry in json.loads(result.stdout)}


def _assert_same_trees(left, right) -> None:
    comparison = filecmp.dircmp(left, right)
    assert not comparison.left_only and not comparison.right_only and not comparison.diff_files, (
        comparison.report()
    )
    for name in comparison.common_dirs:
        _assert_same_trees(left / name, right / name)
    for name in comparison.common_files:
        assert (left / name).read_bytes() == (right / name).read_bytes(), name


def test_init_backup_down_location_catch_up_and_restore(backup_env):
    env = backup_env
    init = env.backupctl("init", "--json", check=True)
    created = json.loads(init.stdout)["sources"][0]
    assert created["created_at"] == "disk"
    assert all(entry["ok"] for entry in created["locations"])

    first = env.backupctl("backup", "--json", "--tag", "change:CHG-42", check=True)
    report = json.loads(first.stdout)
    assert report["exit_code"] == 0
    assert {entry["location"] for entry in report["sources"][0]["locations"]} == {
        "disk",
        "sftp-de",
        "s3-de",
    }
    every = {name: _snapshot_files(env, name) for name in ("disk", "sftp-de", "s3-de")}
    assert len(every["disk"]) == 1 and every["disk"] == every["sftp-de"] == every["s3-de"]

    # The SFTP location goes down (nothing listens on its port) while the data changes.
    (env.root / "data" / "dir0" / "new-file.txt").write_text("written while sftp was down\n")
    env.write_config(sftp_port=ports.free_port())
    partial = env.backupctl("backup", "--json")
    assert partial.returncode == 1, partial.stdout + partial.stderr
    locations = {e["location"]: e for e in json.loads(partial.stdout)["sources"][0]["locations"]}
    assert locations["disk"]["ok"] and locations["s3-de"]["ok"]
    assert not locations["sftp-de"]["ok"] and "sftp-de" in locations["sftp-de"]["reason"]

    newest_run = json.loads(env.backupctl("history", "--json", check=True).stdout)["runs"][0]
    assert newest_run["command"] == "backup" and newest_run["exit_code"] == 1
    recorded = {r["location"]: r["ok"] for r in newest_run["results"]}
    assert recorded == {"disk": 1, "s3-de": 1, "sftp-de": 0}

    status = env.backupctl("status", "--json")
    assert status.returncode == 1
    warnings = json.loads(status.stdout)["sources"][0]["warnings"]
    assert any("sftp-de unreachable" in warning for warning in warnings), warnings

    # Back up: the next run copies what the SFTP location missed.
    env.write_config()
    caught_up = env.backupctl("backup", "--json", check=True)
    assert json.loads(caught_up.stdout)["exit_code"] == 0
    every = {name: _snapshot_files(env, name) for name in ("disk", "sftp-de", "s3-de")}
    assert len(every["disk"]) == 3 and every["disk"] == every["sftp-de"] == every["s3-de"]
    assert env.backupctl("status").returncode == 0

    for location in ("disk", "sftp-de", "s3-de"):
        check = env.restic(location, "check", "--read-data")
        assert check.returncode == 0, f"{location}: {check.stderr}"
        target = env.root / f"restored-{location}"
        restore = env.restic(location, "restore", "latest", "--target", str(target))
        assert restore.returncode == 0, restore.stderr
        _assert_same_trees(env.root / "data", target / str(env.root / "data").lstrip("/"))


def test_snapshots_carry_the_change_reference_and_tenant(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", "--tag", "change:CHG-7", check=True)
    listing = json.loads(env.backupctl("snapshots", "--json", check=True).stdout)
    snapshot = listing["sources"][0]["snapshots"][0]
    assert "change:CHG-7" in snapshot["tags"] and "tenant:customer-7" in snapshot["tags"]
    assert sorted(snapshot["locations"]) == ["disk", "s3-de", "sftp-de"]


def test_missing_source_path_is_an_error_not_an_empty_snapshot(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    (env.root / "data").rename(env.root / "data-moved")
    result = env.backupctl("backup")
    assert result.returncode == 3
    assert "source path does not exist" in result.stdout
    assert _snapshot_files(env, "disk") == set()
