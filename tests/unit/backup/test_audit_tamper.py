"""Tamper tests: `audit verify` finds an edited, deleted, inserted or reordered record, a
truncated log and a whole log replaced by a consistent but different one, and names where.

A real state database, a real checkpoint key and anchors at two real local locations (the same
store code SFTP and S3 locations use); the tampering is what an intruder with root would do with
sqlite3.
"""

from __future__ import annotations

import pathlib
import sqlite3

import pytest

from backupctl import config, state
from backupctl.actions import audit as audit_action
from backupctl.actions import audit_anchor
from backupctl.audit import checkpoint, log, merkle, parallel
from backupctl.errors import ConfigError, ExitCode
from backupctl.keys import access as keyaccess
from backupctl.keys import master_secret

RECORDS = 12
HOST = "bench-1"


def make_config(root: pathlib.Path) -> config.Config:
    master_secret.generate_master_key_file(root / "master.key")
    for name in ("a", "b"):
        (root / name).mkdir()
    raw = {
        "backupctl": {
            "state_dir": str(root / "state"),
            "keystore": str(root / "ks.bin"),
            "master_key_file": str(root / "master.key"),
        },
        "locations": {
            "a": {"kind": "local", "country": "NL", "offsite": False, "path": str(root / "a")},
            "b": {"kind": "local", "country": "DE", "offsite": True, "path": str(root / "b")},
        },
        "sources": {"mail": {"paths": [str(root)], "tenant": "acme", "locations": ["a", "b"]}},
    }
    loaded = config.parse(raw, root / "c.toml")
    keyaccess.open_keystore(loaded, create=True).save()
    return loaded


def write_records(db: pathlib.Path, count: int, *, actor: str = "alice") -> None:
    for index in range(count):
        log.append(
            db,
            log.Event(
                "backup.run",
                actor,
                "ok" if index % 3 else "started",
                subjects={"sources": "mail", "tenants": "acme"},
                details={"run": index, "bytes_added": index * 100},
            ),
        )


def anchor(loaded: config.Config) -> None:
    keystore = keyaccess.open_keystore(loaded)
    made = checkpoint.make(state.db_path(loaded.state_dir), loaded.state_dir, host=HOST)
    anchored = audit_anchor.anchor_at(loaded, keystore, made, ["a", "b"])
    assert anchored.written == ("a", "b")


@pytest.fixture(autouse=True, params=["one process", "two processes"])
def walk_mode(request, monkeypatch):
    """Every tamper test runs with the log walked in one process and, as a long log is, with
    the Merkle roots built by a second process (parallel.py)."""
    if request.param == "two processes":
        monkeypatch.setattr(parallel, "THRESHOLD", 0)
    return request.param


@pytest.fixture
def anchored_log(tmp_path):
    """A log of 12 records, checkpointed after 6 and 12 and anchored at both locations."""
    loaded = make_config(tmp_path)
    db = state.db_path(loaded.state_dir)
    write_records(db, RECORDS // 2)
    anchor(loaded)
    write_records(db, RECORDS // 2)
    anchor(loaded)
    return loaded, db


def verify(loaded: config.Config) -> audit_action.VerifyResult:
    return audit_action.verify(loaded, host=HOST, actor="auditor-ann")


def tamper(db: pathlib.Path, *statements: str) -> None:
    with sqlite3.connect(db) as connection:
        for statement in statements:
            connection.execute(statement)


def kinds(result: audit_action.VerifyResult) -> list[tuple[str, int | None]]:
    return [(problem.kind, problem.seq) for problem in result.problems]


def test_an_untouched_log_verifies_against_every_anchor(anchored_log):
    loaded, _ = anchored_log
    result = verify(loaded)
    assert (result.problems, result.exit_code, result.records) == ((), ExitCode.OK, RECORDS)
    assert [(check.location, check.tree_size) for check in result.anchors] == [
        ("a", RECORDS),
        ("b", RECORDS),
    ]
    assert result.local_checkpoints == 2


def test_an_edited_record_is_named(anchored_log):
    loaded, db = anchored_log
    tamper(db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 4")
    result = verify(loaded)
    assert result.exit_code == ExitCode.FAILED
    assert kinds(result)[0] == ("changed", 4)


def test_a_deleted_record_is_named(anchored_log):
    loaded, db = anchored_log
    tamper(db, "DELETE FROM audit_log WHERE seq = 5")
    result = verify(loaded)
    assert kinds(result)[0] == ("removed", 5)
    assert "record 5 missing" in result.problems[0].text


def test_an_inserted_record_is_named(anchored_log):
    loaded, db = anchored_log
    with sqlite3.connect(db) as connection:  # make room at 8, then forge a well-linked record
        for seq in range(RECORDS, 7, -1):
            connection.execute("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?", (seq,))
        prev = connection.execute("SELECT hash FROM audit_log WHERE seq = 7").fetchone()[0]
        event = log.Event("restore.approve", "mallory", subjects={"request": "R-1"})
        at = "2026-11-29T03:00:00.000000+00:00"
        digest = log.chain_hash(prev, log.canonical(8, at, event))
        connection.execute(
            "INSERT INTO audit_log VALUES"
            " (8, ?, 'mallory', 'restore.approve', ?, 'ok', '{}', ?, ?)",
            (at, log.compact_json(event.subjects), prev, digest),
        )
    result = verify(loaded)
    assert kinds(result)[0] == ("inserted", 8)


def test_reordered_records_are_named(anchored_log):
    loaded, db = anchored_log
    columns = "at, actor, action, subjects, outcome, details, prev, hash"
    with sqlite3.connect(db) as connection:
        three = connection.execute(f"SELECT {columns} FROM audit_log WHERE seq = 3").fetchone()
        four = connection.execute(f"SELECT {columns} FROM audit_log WHERE seq = 4").fetchone()
        assignment = ", ".join(f"{name} = ?" for name in columns.split(", "))
        connection.execute(f"UPDATE audit_log SET {assignment} WHERE seq = 3", four)
        connection.execute(f"UPDATE audit_log SET {assignment} WHERE seq = 4", three)
    result = verify(loaded)
    assert kinds(result)[:2] == [("broken link", 3), ("changed", 3)]


def test_a_truncated_log_is_caught_by_the_local_checkpoint_and_every_anchor(anchored_log):
    loaded, db = anchored_log
    tamper(db, f"DELETE FROM audit_log WHERE seq > {RECORDS - 3}")
    result = verify(loaded)
    assert result.exit_code == ExitCode.FAILED
    truncated = [problem for problem in result.problems if problem.kind == "truncated"]
    assert {problem.seq for problem in truncated} == {RECORDS - 2}
    assert len(truncated) == 3  # the local checkpoint, and the anchors at a and b
    assert "the anchor at location b" in truncated[-1].text


def test_a_truncated_log_without_local_checkpoints_is_caught_by_the_anchors(anchored_log):
    loaded, db = anchored_log
    tamper(db, f"DELETE FROM audit_log WHERE seq > {RECORDS - 3}", "DELETE FROM audit_checkpoints")
    result = verify(loaded)
    assert [problem.kind for problem in result.problems] == ["truncated", "truncated"]
    assert f"records {RECORDS - 2} to {RECORDS} were removed" in result.problems[0].text


def test_a_whole_log_replaced_by_a_consistent_one_is_caught_by_the_anchors(anchored_log):
    loaded, db = anchored_log
    tamper(db, "DELETE FROM audit_log", "DELETE FROM audit_checkpoints")
    write_records(db, RECORDS + 2, actor="mallory")  # a valid chain, longer than the anchored one
    result = verify(loaded)
    assert result.exit_code == ExitCode.FAILED
    replaced = [problem for problem in result.problems if problem.kind == "replaced"]
    assert [problem.seq for problem in replaced[:2]] == [RECORDS, RECORDS]
    assert "the log differs from its checkpoints first between records 1 and" in replaced[-1].text
    assert not [problem for problem in result.problems if problem.kind == "changed"]


def test_a_forged_anchor_is_refused(anchored_log, tmp_path):
    loaded, _ = anchored_log
    anchor_file = tmp_path / "a" / "audit-checkpoints" / "checkpoint-bench-1.json"
    text = anchor_file.read_text()
    anchor_file.write_text(text.replace(f'"tree_size": {RECORDS}', '"tree_size": 3'))
    result = verify(loaded)
    assert kinds(result) == [("bad checkpoint", None)]
    assert "location a: its signature does not verify" in result.problems[0].text


def test_a_missing_anchor_makes_the_verdict_partial(anchored_log, tmp_path):
    loaded, _ = anchored_log
    (tmp_path / "b" / "audit-checkpoints" / "checkpoint-bench-1.json").unlink()
    result = verify(loaded)
    assert result.problems == () and result.exit_code == ExitCode.PARTIAL
    assert "does not exist" in result.anchors[1].error


def test_a_source_may_not_be_named_like_the_anchor_directory(tmp_path):
    raw = {
        "locations": {"a": {"kind": "local", "country": "NL", "path": str(tmp_path)}},
        "sources": {"audit-checkpoints": {"paths": [str(tmp_path)], "locations": ["a"]}},
    }
    with pytest.raises(ConfigError, match="audit-checkpoints is reserved for audit anchors"):
        config.parse(raw, tmp_path / "c.toml")


def test_proofs_against_the_newest_checkpoint_verify_without_the_log(anchored_log):
    loaded, _ = anchored_log
    included = audit_action.prove(loaded, seq=3)
    made = included.checkpoint
    assert (included.kind, made.tree_size, checkpoint.signature_ok(made)) == (
        "inclusion",
        RECORDS,
        True,
    )
    leaf = merkle.leaf_hash(bytes.fromhex(included.leaf))
    path = [bytes.fromhex(node) for node in included.path]
    root = bytes.fromhex(made.root)
    assert merkle.verify_inclusion(leaf, 2, RECORDS, path, root)
    assert not merkle.verify_inclusion(leaf, 3, RECORDS, path, root)
    extended = audit_action.prove(loaded, old_size=RECORDS // 2)
    local = checkpoint.local_checkpoints(state.db_path(loaded.state_dir))
    assert extended.old_root == local[0].root  # the earlier checkpoint's own root
    assert merkle.verify_consistency(
        RECORDS // 2,
        RECORDS,
        bytes.fromhex(extended.old_root),
        root,
        [bytes.fromhex(node) for node in extended.path],
    )


def test_unusual_text_verifies_and_a_look_alike_is_caught(anchored_log):
    """The fast check puts a timestamp in as it is unless it holds a quote or a backslash: such
    a record must verify (no false alarm), and the same text stored with the quote escaped by
    hand (``a"b`` as ``a\\"b``, which gives the same bytes when put in unescaped) must not."""
    loaded, db = anchored_log
    event = log.Event("backup.run", 'o"brien\\', subjects={"sources": "m\u00e9"})
    log.append(db, event, at='2026-11-29T01:00:00"z')
    anchor(loaded)
    assert verify(loaded).problems == ()
    tamper(db, f"UPDATE audit_log SET at = '2026-11-29T01:00:00\\\"z' WHERE seq = {RECORDS + 1}")
    assert kinds(verify(loaded))[0] == ("changed", RECORDS + 1)


def test_a_record_with_bytes_where_text_belongs_is_changed_not_a_crash(anchored_log):
    loaded, db = anchored_log
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE audit_log SET at = ? WHERE seq = 3", (b"2026-11-29",))
    assert kinds(verify(loaded))[0] == ("changed", 3)


def test_a_failing_second_process_leaves_the_walk_to_this_one(anchored_log, monkeypatch):
    loaded, db = anchored_log
    monkeypatch.setattr(parallel, "THRESHOLD", 0)
    monkeypatch.setattr(parallel, "_CHILD", "raise SystemExit(7)")
    tamper(db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 4")
    result = verify(loaded)
    assert kinds(result)[0] == ("changed", 4) and result.records == RECORDS
