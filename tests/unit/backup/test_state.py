"""The state database: schema versions and migrations, root-only modes, the manifest."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from backupctl import state
from backupctl.replication.manifest import Manifest

OLD_SCHEMA = state.MIGRATIONS[0]  # the schema of every database before versions existed


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_state_directory_is_0700_and_its_database_files_0600(tmp_path):
    db = state.db_path(tmp_path / "state")
    state.start_run(db, command="backup", actor="root", host="h")
    assert mode(db.parent) == 0o700
    files = [db, db.with_name("state.db-wal"), db.with_name("state.db-shm")]
    assert all(mode(path) == 0o600 for path in files if path.exists())
    assert mode(db) == 0o600


def test_a_database_left_readable_by_others_is_made_0600(tmp_path):
    db = state.db_path(tmp_path)
    sqlite3.connect(db).close()
    db.chmod(0o644)
    state.unfinished_runs(db)
    assert mode(db) == 0o600


def test_an_unversioned_database_adopts_migration_one_and_keeps_its_runs(tmp_path):
    db = state.db_path(tmp_path)
    with sqlite3.connect(db) as connection:
        connection.executescript(OLD_SCHEMA)
        connection.execute(
            "INSERT INTO runs (command, actor, host, started_at) VALUES"
            " ('backup', 'root', 'h', '2026-01-01T00:00:00+00:00')"
        )
    assert state.load_manifest(db, "shop") is None
    (run,) = state.recent_runs(db, limit=5)
    assert run["command"] == "backup" and run["pid"] is None
    with sqlite3.connect(db) as connection:
        assert connection.execute(
            "SELECT version FROM schema_version WHERE component = 'backup'"
        ).fetchone() == (len(state.MIGRATIONS),)


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    db = state.db_path(tmp_path)
    with sqlite3.connect(db) as connection:
        connection.execute(state.VERSION_TABLE)
        connection.execute("INSERT INTO schema_version VALUES ('backup', 99)")
    with pytest.raises(state.StateError, match="version 99, newer than"):
        state.unfinished_runs(db)


def test_other_components_versions_are_left_alone(tmp_path):
    db = state.db_path(tmp_path)
    with sqlite3.connect(db) as connection:
        connection.execute(state.VERSION_TABLE)
        connection.execute("INSERT INTO schema_version VALUES ('recovery', 7)")
    state.unfinished_runs(db)
    with sqlite3.connect(db) as connection:
        assert dict(connection.execute("SELECT * FROM schema_version")) == {
            "recovery": 7,
            "backup": len(state.MIGRATIONS),
        }


def test_manifest_established_extended_and_deleted(tmp_path):
    db = state.db_path(tmp_path)
    state.establish_manifest(
        db, "shop", {"config": 155, "keys/k": 450}, how="init", location="disk"
    )
    state.add_to_manifest(db, "shop", {"snapshots/s": 250, "config": 999})
    state.mark_deleted(db, "shop", ["keys/k"])
    assert state.load_manifest(db, "shop") == Manifest(
        {"config": 155, "snapshots/s": 250}, frozenset({"keys/k"})
    )
    assert state.load_manifest(db, "other") is None
    assert state.manifest_origin(db, "shop")["how"] == "init"


def test_verify_cursor_and_results(tmp_path):
    db = state.db_path(tmp_path)
    assert state.verify_cursor(db, "shop", "disk") is None
    state.set_verify_cursor(db, "shop", "disk", "data/ab/x")
    state.set_verify_cursor(db, "shop", "disk", "index/y")
    assert state.verify_cursor(db, "shop", "disk") == "index/y"
    state.record_verify(db, "shop", checked=3, damaged=1, repaired=1, unrepairable=0)
    assert state.last_verify(db, "shop")["repaired"] == 1


def test_unfinished_runs_are_those_after_the_newest_finished_run(tmp_path):
    db = state.db_path(tmp_path)
    killed_before = state.start_run(db, command="backup", actor="root", host="h")
    finished = state.start_run(db, command="backup", actor="root", host="h")
    state.finish_run(db, finished, 0)
    killed_after = state.start_run(db, command="init", actor="root", host="h")
    assert [run["id"] for run in state.unfinished_runs(db)] == [killed_after]
    assert killed_before < finished


def test_a_state_directory_made_by_hand_with_a_loose_mode_is_made_0700(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    state.unfinished_runs(state.db_path(directory))
    assert mode(directory) == 0o700
