"""`backupctl check` and `backupctl drill` on real restic (both versions), a real OpenSSH server
and an S3-compatible server: the read subset rotates per location, damage is found, a held
source lock makes them wait their turn, and a drill restores, compares, records and leaves
nothing behind."""

from __future__ import annotations

import json
import sqlite3

from backupctl import runlock


def _json(result):
    return json.loads(result.stdout or "{}")


def _audit(env, action):
    with sqlite3.connect(env.root / "state" / "state.db") as connection:
        return connection.execute(
            "SELECT outcome, subjects, details FROM audit_log WHERE action = ? ORDER BY seq",
            (action,),
        ).fetchall()


def _subsets(report):
    (source,) = report["sources"]
    return {
        location["location"]: (location["ok"], location["subset"])
        for location in source["locations"]
    }


def test_check_reads_a_rotating_subset_waits_for_the_lock_and_finds_damage(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    every = {"disk", "sftp-de", "s3-de"}

    first = env.backupctl("check", "--json", "--read-data-subset", "50%")
    assert first.returncode == 0, first.stdout + first.stderr
    assert _subsets(_json(first)) == {name: (True, "1/2") for name in every}
    second = _json(env.backupctl("check", "--json", "--read-data-subset", "50%"))
    assert _subsets(second) == {name: (True, "2/2") for name in every}

    with runlock.source_lock(env.root / "state", env.source):  # a backup of the source runs
        busy = env.backupctl("check", "--json")
    assert busy.returncode == 3
    assert "another backupctl run" in _json(busy)["sources"][0]["error"]

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
    status = _json(env.backupctl("status", "--json"))["sources"][0]
    checks = {check["location"]: check["ok"] for check in status["checks"]}
    assert checks == {"disk": 0, "sftp-de": 1, "s3-de": 1}
    assert any(w.startswith("check at disk") for w in status["warnings"])
    outcomes = [outcome for outcome, _, _ in _audit(env, "check.run")]
    assert outcomes == ["started", "ok", "started", "ok", "started", "failed", "started", "failed"]


def test_a_drill_restores_compares_records_and_leaves_nothing_behind(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    scratch = env.root / "state" / "drills" / env.source
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

    records = _audit(env, "drill.run")
    assert [outcome for outcome, _, _ in records] == ["started", "ok"]
    details = json.loads(records[-1][2])["sources"][0]
    assert details["snapshot_id"] == report["snapshot_id"] and details["files"] == 5
    assert "file-" not in records[-1][2] and "dir" not in records[-1][2]  # no file names

    for pack in (env.root / "disk" / env.source / "data").glob("*/*"):
        pack.write_bytes(b"\0" * pack.stat().st_size)  # every pack at disk destroyed
    failed = env.backupctl("drill", "--json")
    assert failed.returncode == 3, failed.stdout + failed.stderr
    (report,) = _json(failed)["sources"]
    assert not report["ok"] and report["reason"].startswith("restore from disk failed")
    assert list(scratch.iterdir()) == []
    status = _json(env.backupctl("status", "--json"))["sources"][0]
    assert status["last_drill"]["ok"] == 0
    assert any(w.startswith("restore drill") for w in status["warnings"])
