"""`backupctl verify` reads every location's files, checks them against their names and the
manifest's sizes, repairs from a verified copy, and covers every file over sampled runs.
Real restic, a real OpenSSH server and an S3-compatible server."""

from __future__ import annotations

import json


def _verify(env, *args):
    result = env.backupctl("verify", "--json", *args)
    return result.returncode, json.loads(result.stdout or "{}"), result


def test_a_flipped_byte_in_a_pack_is_found_and_repaired(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    pack = min((env.root / "sftp-root" / env.source / "data").glob("*/*"))
    original = bytearray(pack.read_bytes())
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0xFF
    pack.write_bytes(bytes(damaged))  # same size: only the content check can see it

    code, report, result = _verify(env)
    assert code == 5, result.stdout + result.stderr
    (source,) = report["sources"]
    relative = str(pack.relative_to(env.root / "sftp-root" / env.source))
    assert source["findings"] == [
        {
            "location": "sftp-de",
            "path": relative,
            "problem": "content does not match its name",
            "repaired": True,
            "detail": "copied from disk",
        }
    ]
    assert pack.read_bytes() == bytes(original)
    assert env.restic("sftp-de", "check", "--read-data").returncode == 0

    code, report, _ = _verify(env)
    assert code == 0 and report["sources"][0]["damaged"] == 0
    status = json.loads(env.backupctl("status", "--json").stdout)["sources"][0]
    assert status["last_verify"]["checked"] == report["sources"][0]["checked"]
    assert status["last_verify"]["damaged"] == 0


def test_three_runs_of_a_34_percent_sample_cover_every_file(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    seen: dict[str, set[str]] = {}
    counts = []
    for _ in range(3):
        code, report, result = _verify(env, "--sample", "34")
        assert code == 0, result.stdout + result.stderr
        for location in report["sources"][0]["locations"]:
            seen.setdefault(location["location"], set()).update(location["checked_paths"])
            counts.append(location["checked"])
    every = {
        str(path.relative_to(env.root / "disk" / env.source))
        for path in (env.root / "disk" / env.source).rglob("*")
        if path.is_file()
    }
    every -= {path for path in every if path.startswith("locks/")}
    assert set(seen) == {"disk", "sftp-de", "s3-de"}
    assert all(paths == every for paths in seen.values()), (every, seen)
    assert max(counts) < len(every)  # each run checked only a sample
