"""The audit trail of real runs: each backup is recorded and its checkpoint anchored at the local,
SFTP and S3 locations; `audit verify` reads the anchors back from all three and catches a log
replaced wholesale; a log that cannot be written stops the backup before anything happens.

Real restic, a real OpenSSH server and the S3-compatible server of the session.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3

import pytest

from backupctl import state
from backupctl.audit import anchors, log
from tests.fixtures.requirements import skip_or_fail


@pytest.fixture
def restic_binary() -> str:
    """The audit trail does not depend on restic's version: one run, with Debian's restic."""
    found = shutil.which("restic")
    if found is None:
        skip_or_fail("restic is not installed")
    return found


def verify(env) -> tuple[int, dict]:
    result = env.backupctl("audit", "verify", "--json")
    return result.returncode, json.loads(result.stdout or "{}")


def test_runs_are_recorded_anchored_everywhere_and_a_replaced_log_is_caught(backup_env):
    env = backup_env
    env.backupctl("init", "-q", check=True)
    env.backupctl("backup", "-q", check=True)
    host_anchor = anchors.object_name(socket.gethostname())
    assert (env.root / "disk" / anchors.SUBPATH / host_anchor).is_file()
    assert (env.root / "sftp-root" / anchors.SUBPATH / host_anchor).is_file()

    code, report = verify(env)
    assert code == 0, report
    assert report["intact"] and report["problems"] == []
    anchored = {entry["location"]: entry["tree_size"] for entry in report["anchors"]}
    assert set(anchored) == {"disk", "sftp-de", "s3-de"}
    assert all(size and size >= 4 for size in anchored.values())  # init and backup, twice each

    shown = json.loads(env.backupctl("audit", "show", "--json", "--action", "backup").stdout)
    backups = [(entry["action"], entry["outcome"]) for entry in shown]
    assert backups == [("backup.run", "started"), ("backup.run", "ok")]
    (source,) = shown[1]["details"]["sources"]
    assert source["source"] == env.source and source["snapshot"]
    assert shown[1]["subjects"] == {"sources": env.source, "tenants": "customer-7"}

    db = state.db_path(env.root / "state")
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM audit_log")
        connection.execute("DELETE FROM audit_checkpoints")
    for _ in range(20):  # a consistent log, longer than the one anchored
        log.append(db, log.Event("backup.run", "mallory", "ok"))
    code, report = verify(env)
    assert code == 3
    replaced = {problem["text"].split("(")[0] for problem in report["problems"]}
    for location in ("disk", "sftp-de", "s3-de"):
        assert any(f"the anchor at location {location}" in text for text in replaced), replaced


def test_a_log_that_cannot_be_written_stops_the_backup_before_it_starts(backup_env):
    env = backup_env
    env.backupctl("init", "-q", check=True)
    db = state.db_path(env.root / "state")
    with sqlite3.connect(db) as connection:
        runs_before = connection.execute("SELECT COUNT(*) FROM runs").fetchone()
        connection.execute(
            "CREATE TRIGGER full BEFORE INSERT ON audit_log"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    snapshots_before = sorted((env.root / "disk" / env.source / "snapshots").iterdir())
    result = env.backupctl("backup")
    assert result.returncode == 3
    assert "cannot write the audit log" in result.stderr and "Traceback" not in result.stderr
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM runs").fetchone() == runs_before
    assert sorted((env.root / "disk" / env.source / "snapshots").iterdir()) == snapshots_before
