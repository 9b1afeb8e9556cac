"""The audit log's append and chain: each record's hash covers the record before it."""

from __future__ import annotations

import sqlite3

import pytest

from backupctl import state
from backupctl.audit import log


def test_records_are_numbered_and_hash_linked(tmp_path):
    db = state.db_path(tmp_path / "state")
    first = log.append(db, log.Event("backup.run", "alice", subjects={"source": "mail"}))
    second = log.append(db, log.Event("restore.request", "bob", outcome="started"))
    assert (first.seq, first.prev) == (1, log.GENESIS)
    assert (second.seq, second.prev) == (2, first.hash)
    stored = list(log.records(db))
    assert [record.hash for record in stored] == [first.hash, second.hash]
    for before, record in zip([log.GENESIS, first.hash], stored, strict=True):
        body = log.canonical(record.seq, record.at, log.stored_event(record))
        assert log.chain_hash(before, body) == record.hash


def test_a_changed_record_no_longer_matches_its_hash(tmp_path):
    db = state.db_path(tmp_path / "state")
    log.append(db, log.Event("restore.approve", "carol", subjects={"request": "7"}))
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE audit_log SET actor = 'mallory'")
    (record,) = log.records(db)
    body = log.canonical(record.seq, record.at, log.stored_event(record))
    assert log.chain_hash(record.prev, body) != record.hash


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (log.Event("x.y", "alice", outcome="fine"), "outcome 'fine'"),
        (log.Event("", "alice"), "needs an action"),
        (log.Event("x.y", "alice", subjects={"n": 3}), "must be strings"),
        (log.Event("x.y", "alice", details={"blob": "a" * 20_000}), "over the limit"),
    ],
)
def test_a_malformed_event_is_refused_and_nothing_is_written(tmp_path, event, problem):
    db = state.db_path(tmp_path / "state")
    with pytest.raises(log.AuditError, match=problem):
        log.append(db, event)
    assert list(log.records(db)) == []


def test_an_unwritable_log_fails_closed(tmp_path):
    db = state.db_path(tmp_path / "state")
    log.append(db, log.Event("backup.run", "alice"))
    with sqlite3.connect(db) as connection:
        connection.execute(
            "CREATE TRIGGER no_more BEFORE INSERT ON audit_log"
            " BEGIN SELECT RAISE(ABORT, 'full'); END"
        )
    with pytest.raises(log.AuditError, match="cannot write the audit log"):
        log.append(db, log.Event("restore.run", "alice"))


def test_a_kept_connection_leaves_the_wal_to_be_checkpointed_once(tmp_path):
    """Closing the last connection to a WAL database checkpoints it (syncs, and the WAL file
    goes); while a run keeps one open, the run's other connections close without that."""
    db = state.db_path(tmp_path / "state")
    wal = db.with_name(db.name + "-wal")
    log.append(db, log.Event("backup.run", "alice", outcome="started"))
    assert not wal.exists()  # the last connection closed: checkpointed, WAL removed
    with state.session(db):
        log.append(db, log.Event("backup.run", "alice"))
        assert wal.stat().st_size > 0  # still in the WAL: nobody checkpointed on close
        assert [record.seq for record in log.records(db)] == [1, 2]
    assert not wal.exists()
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (2,)


def test_a_run_writes_its_records_through_one_connection(tmp_path, monkeypatch):
    """The ``started`` record, the closing record and the checkpoint go through the run's one
    connection (SQLite syncs a new connection's WAL directory once per connection)."""
    import types

    from backupctl.actions import run_audit
    from backupctl.results import RunReport

    source = types.SimpleNamespace(name="mail", tenant="acme")  # all run_subjects reads
    opened = []
    original = state.connect

    def counting(path):
        opened.append(path)
        return original(path)

    monkeypatch.setattr(state, "connect", counting)
    audited = run_audit.started(
        tmp_path / "state", command="backup", actor="ops", host="h", sources=[source]
    )
    run_audit.finished(audited, RunReport(1, ()), finished=True)
    monkeypatch.undo()
    assert len(opened) == 1
    outcomes = [(record.action, record.outcome) for record in log.records(audited.db)]
    assert outcomes == [("backup.run", "started"), ("backup.run", "ok")]
