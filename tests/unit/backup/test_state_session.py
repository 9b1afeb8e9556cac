"""One connection per run: inside ``state.session`` every ``connect`` block reuses the session's
connection, and still commits (or rolls back) at its own end, as a fresh connection did."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from backupctl import state
from backupctl.results import LocationResult


def runs_seen_from_outside(db) -> int:
    with sqlite3.connect(db) as other:
        return other.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def test_connect_blocks_of_a_session_share_one_connection(tmp_path):
    db = state.db_path(tmp_path)
    with state.session(db):
        with state.connect(db) as first:
            pass
        with state.connect(db) as second:
            pass
    assert first is second
    with state.connect(db) as outside, state.connect(db) as another:
        assert outside is not another


def test_each_block_commits_at_its_end_not_at_the_end_of_the_session(tmp_path):
    db = state.db_path(tmp_path)
    with state.session(db):
        state.start_run(db, command="backup", actor="root", host="h")
        assert runs_seen_from_outside(db) == 1  # durable before the session ends


def test_a_block_that_raises_is_rolled_back_and_the_session_goes_on(tmp_path):
    db = state.db_path(tmp_path)
    with state.session(db):
        with pytest.raises(RuntimeError), state.connect(db) as connection:
            connection.execute(
                "INSERT INTO runs (command, actor, host, started_at) VALUES ('x', 'a', 'h', 't')"
            )
            raise RuntimeError("fails mid-way")
        state.start_run(db, command="backup", actor="root", host="h")
    assert [run["command"] for run in state.recent_runs(db, limit=5)] == ["backup"]


def test_a_nested_block_gets_its_own_connection(tmp_path):
    db = state.db_path(tmp_path)
    with state.session(db), state.connect(db) as outer, state.connect(db) as inner:
        assert inner is not outer


def test_a_row_factory_set_by_one_block_does_not_leak_into_the_next(tmp_path):
    db = state.db_path(tmp_path)
    with state.session(db):
        state.start_run(db, command="backup", actor="root", host="h")
        assert state.recent_runs(db, limit=1)[0]["command"] == "backup"  # sets sqlite3.Row
        with state.connect(db) as connection:
            assert type(connection.execute("SELECT 1").fetchone()) is tuple


def test_another_thread_uses_its_own_connection(tmp_path):
    db = state.db_path(tmp_path)
    seen = []
    with state.session(db), state.connect(db) as mine:
        worker = threading.Thread(target=lambda: seen.append(_connection_of(db)))
        worker.start()
        worker.join(30)
    assert seen and seen[0] is not mine


def _connection_of(db):
    with state.connect(db) as connection:
        connection.execute("SELECT 1").fetchone()
        return connection


def test_a_session_on_a_newer_database_fails_like_connect(tmp_path):
    db = state.db_path(tmp_path)
    with sqlite3.connect(db) as connection:
        connection.execute(state.VERSION_TABLE)
        connection.execute(
            "INSERT INTO schema_version VALUES (?, ?)", (state.COMPONENT, len(state.MIGRATIONS) + 1)
        )
    with pytest.raises(state.StateError, match="newer"), state.session(db):
        pass


def test_a_sources_results_are_recorded_together_and_later_commits_sync_again(tmp_path):
    db = state.db_path(tmp_path)
    results = [
        LocationResult("web", "disk", "backup", ok=True, snapshot_id="abc"),
        LocationResult("web", "usb", "replicate", ok=False, reason="not reached"),
    ]
    with state.session(db):
        run_id = state.start_run(db, command="backup", actor="root", host="h")
        with state.connect(db) as connection:
            synced = connection.execute("PRAGMA synchronous").fetchone()[0]
        state.record_results(db, run_id, results)
        with state.connect(db) as connection:
            assert connection.execute("PRAGMA synchronous").fetchone()[0] == synced
    rows = state.recent_runs(db, limit=1)[0]["results"]
    assert [(row["location"], row["step"], row["ok"]) for row in rows] == [
        ("disk", "backup", 1),
        ("usb", "replicate", 0),
    ]
    assert synced == 2  # FULL: the manifest and the run's start and end wait for the disk
