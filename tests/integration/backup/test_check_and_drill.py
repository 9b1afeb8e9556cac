"""`backupctl check` and `backupctl drill` on real restic (both versions), a real OpenSSH server
and an S3-compatible server: the read subset rotates per location, damage is found, a held
source lock makes check, drill and rotate refuse to overlap, and a drill restores, compares,
records and leaves nothing behind. One test per restic version: init and backup are the slow
part, so every step shares them."""

from __future__ import annotations

import json
import sqlite3

from backupctl import runlock


def _json(result):
    return json.loads(result.stdout or "{}")


def _audit(env, action):
    with sqlite3.connect(env.root / "state" / "state.db") as connection:
        return connection.execute(
            "SELECT outcome, details FROM audit_log WHERE action = ? ORDER BY seq", (action,)
        ).fetchall()


def _subsets(report):
    (source,) = report["sources"]
    return {entry["location"]: (entry["ok"], entry["subset"]) for entry in source["locations"]}


def _check_rotates_its_subset(env):
    every = {"disk", "sftp-de", "s3-de"}
    first = env.backupctl("check", "--json", "--read-data-subset", "50%")
    assert first.returncode == 0, first.stdout + first.stderr
    assert _subsets(_json(first)) == {name: (True, "1/2") for name in every}
    second = _json(env.backupctl("check", "--json", "--read-data-subset", "50"))
    assert _subsets(second) == {name: (True, "2/2") for name in every}


def _nothing_overlaps_a_held_source_lock(env):
    with runlock.source_lock(env.root / "state", env.source):  # a backup of the source runs
        check = env.backupctl("check", "--json")
        drill = env.backupctl("drill", "--json")
        rotate = env.backupctl("rotate", "--json")
    assert check.returncode == drill.returncode == 3, check.stderr + drill.stderr
    assert "another backupctl run" in _json(check)["sources"][0]["error"]
    assert "another backupctl run" in _json(drill)["sources"][0]["reason"]
    assert rotate.returncode == 3 and "another backupctl run" in rotate.stdout


def _drill_restores_and_leaves_nothing(env, scratch):
    (scratch / "run-killed" / "srv").mkdir(parents=True)  # left by a drill killed outright
    (scratch / "run-killed" / "srv" / "customer.txt").write_text("data of a killed drill")
    result = env.backupctl("drill", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    (report,) = _json(result)["sources"]
    assert report["ok"] and report["files"] == 5 and report["mismatched"] == 0
    assert (report["restored_from"], report["compared_with"]) == ("disk", "sftp-de")
    assert report["bytes"] == 5 * 40_000
    assert list(scratch.iterdir()) == []  # this drill's copy and the killed one's are gone
    assert scratch.stat().st_mode & 0o777 == 0o700
    outcome, details = _audit(env, "drill.run")[-1]
    assert outcome == "ok"
    assert json.loads(details)["sources"][0]["snapshot_id"] == report["snapshot_id"]
    assert "file-" not in details and "dir" not in details  # ids and counts, no file names


def test_check_and_drill(backup_env):
    env = backup_env
    scratch = env.root / "state" / "drills" / env.source
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    _check_rotates_its_subset(env)
    _nothing_overlaps_a_held_source_lock(env)
    _drill_restores_and_leaves_nothing(env, scratch)

    pack = min((env.root / "disk" / env.source / "data").glob("*/*"))
    damaged = bytearray(pack.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    pack.write_bytes(bytes(damaged))
    found = env.backupctl("check", "--json", "--read-data-subset", "100%")
    assert found.returncode == 1, found.stdout + found.stderr
    assert _subsets(_json(found)) == {
        "disk": (False, "1/1"),
        "sftp-de": (True, "1/1"),
        "s3-de": (True, "1/1"),
    }

    for pack in (env.root / "disk" / env.source / "data").glob("*/*"):
        pack.write_bytes(b"\0" * pack.stat().st_size)  # every pack at disk destroyed
    failed = env.backupctl("drill", "--json")
    assert failed.returncode == 3, failed.stdout + failed.stderr
    (report,) = _json(failed)["sources"]
    assert not report["ok"] and report["reason"].startswith("restore from disk failed")
    assert list(scratch.iterdir()) == []

    status = _json(env.backupctl("status", "--json"))["sources"][0]
    assert {check["location"]: check["ok"] for check in status["checks"]} == {
        "disk": 0,
        "sftp-de": 1,
        "s3-de": 1,
    }
    assert status["last_drill"]["ok"] == 0
    assert any(warning.startswith("check at disk") for warning in status["warnings"])
    assert any(warning.startswith("restore drill") for warning in status["warnings"])
    outcomes = [outcome for outcome, _ in _audit(env, "check.run")]
    assert outcomes == ["started", "ok", "started", "ok"] + ["started", "failed"] * 2
    _metrics_tell_it_without_a_file_name(env)


def _metrics_tell_it_without_a_file_name(env):
    path = env.root / "metrics" / "backupctl.prom"
    path.parent.mkdir()
    result = env.backupctl("metrics", "--output", str(path))
    assert result.returncode == 0, result.stderr
    assert path.stat().st_mode & 0o777 == 0o644
    text = path.read_text()
    values = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            values[key] = float(value)

    def value(name, location=None):
        labels = f'source="{env.source}"' + (f',location="{location}"' if location else "")
        return values[f"{name}{{{labels}}}"]

    for location in ("disk", "sftp-de", "s3-de"):
        assert value("backupctl_location_up", location) == 1
        assert value("backupctl_snapshots", location) == 1
        assert value("backupctl_repository_size_bytes", location) > 0
        assert 0 <= value("backupctl_newest_snapshot_age_seconds", location) < 3600
        assert value("backupctl_oldest_snapshot_age_seconds", location) >= value(
            "backupctl_newest_snapshot_age_seconds", location
        )
        assert value("backupctl_last_success_timestamp_seconds", location) > 1.7e9
        assert value("backupctl_last_result_ok", location) == 1
        assert value("backupctl_foreign_files", location) == 0
        assert value("backupctl_rotation_pending", location) == 0
        assert value("backupctl_check_timestamp_seconds", location) > 1.7e9
    assert value("backupctl_check_ok", "disk") == 0 and value("backupctl_check_ok", "s3-de") == 1
    assert value("backupctl_drill_ok") == 0 and value("backupctl_drill_mismatched_files") == 0
    assert value("backupctl_damaged_files") == 0 and value("backupctl_source_warnings") >= 2
    assert values[f'backupctl_source_info{{source="{env.source}",tenant="customer-7"}}'] == 1
    for name in ("file-", "dir0", str(env.root), ".bin"):  # no file name, no path
        assert name not in text, name
