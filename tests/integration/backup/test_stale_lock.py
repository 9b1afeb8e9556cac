"""A restic killed with SIGKILL leaves a lock whose process is gone; restic 0.14 cannot wait for
locks, so backupctl runs `restic unlock` (which removes only stale locks) once and retries at the
same location. Real restic, a real OpenSSH server and an S3-compatible server.

The killed restic runs `check` (an exclusive lock): a stale *non-exclusive* lock, as a killed
`restic backup` leaves, does not stop the next backup at all (restic 0.14 lets shared locks be)."""

from __future__ import annotations

import json
import re
import signal
import time

from tests.fixtures import backup_env as backup_env_module


def test_a_stale_lock_left_by_a_killed_restic_does_not_move_the_primary(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    backup_env_module.write_tree(env.root / "data" / "big", files=30, size=1_000_000, seed=4)
    env.backupctl("backup", check=True)
    repository = env.root / "disk" / env.source
    restic = env.start_restic_on_disk("check", "--read-data")
    deadline = time.monotonic() + 60
    locks = repository / "locks"
    # wait until the lock is whole: restic 0.14 writes it under a "<id>-tmp-<n>" name, syncs it
    # and renames it; 0.18 writes it in place. A temporary or empty lock file is ignored by
    # restic (seen when the kill came before the rename on a busy disk) and would test nothing.
    while not (locks.exists() and any(_whole_lock(path) for path in locks.iterdir())):
        assert restic.poll() is None, "restic ended before its lock was seen"
        assert time.monotonic() < deadline, "restic never created its lock"
        time.sleep(0.01)
    restic.send_signal(signal.SIGKILL)
    restic.wait()
    assert any(locks.iterdir()), "the killed restic's lock is gone; nothing to test"

    result = env.backupctl("backup", "--json")
    (source,) = json.loads(result.stdout)["sources"]
    assert source["primary"] == "disk", result.stdout + result.stderr
    backup = next(r for r in source["locations"] if r["step"] == "backup")
    assert backup["ok"] and backup["location"] == "disk"
    assert result.returncode == 0, result.stdout + result.stderr
    assert "removing stale locks" in result.stderr
    assert not any(locks.iterdir())


def _whole_lock(path) -> bool:
    return re.fullmatch(r"[0-9a-f]{64}", path.name) is not None and path.stat().st_size > 0
