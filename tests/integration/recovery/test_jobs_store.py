"""Repair jobs and custody through the store, on a real SQLite file, including tampering."""

from __future__ import annotations

import os
import re
import sqlite3
import stat

import pytest

from recovery import errors, job_sql
from recovery.jobs import JobStore, Medium

WHO = {"actor": "alice", "host": "bench1"}
STICK = Medium(
    node="/dev/sdb",
    kind="usb-stick",
    model="DataTraveler",
    serial="ABC123",
    size_bytes=8 * 1024**3,
    logical_sector_size=512,
    physical_sector_size=512,
)


@pytest.fixture
def store(tmp_path) -> JobStore:
    return JobStore(tmp_path / "state.db", tmp_path / "jobs")


@pytest.fixture
def job(store):
    return store.open_job(
        customer="ACME B.V.", consent_ref="CF-2025-17", ticket="T-42", note="clicks", **WHO
    )


def test_open_job_records_consent_and_creates_folder(store, job):
    assert re.fullmatch(r"J-\d{8}-001", job.job_id)
    assert (job.status, job.customer, job.consent_ref, job.ticket, job.medium) == (
        "open",
        "ACME B.V.",
        "CF-2025-17",
        "T-42",
        None,
    )
    assert job.folder == store.jobs_root / job.job_id and job.folder.is_dir()
    [event] = store.events(job.job_id)
    assert (event.sequence, event.kind, event.actor, event.host) == (
        1,
        "job.opened",
        "alice",
        "bench1",
    )
    assert event.details["consent_ref"] == "CF-2025-17"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", event.at)


def test_job_ids_count_up_within_a_day(store, job):
    second = store.open_job(customer="B", consent_ref="CF-2", ticket=None, note=None, **WHO)
    assert second.job_id == job.job_id[:-3] + "002"


def test_open_without_consent_is_refused(store):
    with pytest.raises(errors.RefusedError, match="consent"):
        store.open_job(customer="ACME", consent_ref="  ", ticket=None, note=None, **WHO)
    assert store.list() == []


def test_unknown_job_is_not_found(store):
    with pytest.raises(errors.JobNotFound) as raised:
        store.get("J-19990101-001")
    assert raised.value.exit_code == 2


def test_attach_records_medium_identity(store, job):
    attached = store.attach(job.job_id, STICK, **WHO)
    assert attached.medium == STICK
    event = store.events(job.job_id)[-1]
    assert event.kind == "medium.attached"
    assert event.details["medium"]["serial"] == "ABC123" and event.details["reattached"] is False


def test_same_medium_on_new_node_is_reattached(store, job):
    store.attach(job.job_id, STICK, **WHO)
    moved = Medium(**{**STICK.to_dict(), "node": "/dev/sdc"})
    assert store.attach(job.job_id, moved, **WHO).medium.node == "/dev/sdc"
    assert store.events(job.job_id)[-1].details["reattached"] is True


def test_other_medium_is_refused(store, job):
    store.attach(job.job_id, STICK, **WHO)
    other = Medium(**{**STICK.to_dict(), "serial": "XYZ999"})
    with pytest.raises(errors.RefusedError, match="already has a medium"):
        store.attach(job.job_id, other, **WHO)
    assert store.get(job.job_id).medium == STICK


def test_medium_differences_name_the_fields():
    other = Medium(**{**STICK.to_dict(), "node": "/dev/sdz", "size_bytes": 1})
    assert STICK.differences(other) == (f"size_bytes: recorded {STICK.size_bytes!r}, now 1",)


def test_record_event_chains_and_close_ends_the_record(store, job):
    event = store.record_event(job.job_id, kind="image.started", details={"image": "x.img"}, **WHO)
    assert event.sequence == 2 and len(event.digest) == 64
    closed = store.close(job.job_id, **WHO)
    assert closed.status == "closed" and closed.closed_at
    assert [item.kind for item in store.events(job.job_id)] == [
        "job.opened",
        "image.started",
        "job.closed",
    ]
    assert store.verify_chain(job.job_id) == (True, "custody chain of 3 events verifies")
    for attempt in (
        lambda: store.close(job.job_id, **WHO),
        lambda: store.attach(job.job_id, STICK, **WHO),
        lambda: store.record_event(job.job_id, kind="note.added", details={}, **WHO),
    ):
        with pytest.raises(errors.JobClosedError):
            attempt()


def test_list_open_only(store, job):
    other = store.open_job(customer="B", consent_ref="CF-2", ticket=None, note=None, **WHO)
    store.close(other.job_id, **WHO)
    assert [item.job_id for item in store.list()] == [job.job_id, other.job_id]
    assert [item.job_id for item in store.list(open_only=True)] == [job.job_id]


def test_store_shares_the_state_file_with_other_tables(tmp_path):
    with sqlite3.connect(tmp_path / "state.db") as connection:
        connection.execute("CREATE TABLE snapshots (id TEXT)")
    store = JobStore(tmp_path / "state.db", tmp_path / "jobs")
    store.open_job(customer="A", consent_ref="C", ticket=None, note=None, **WHO)
    with sqlite3.connect(tmp_path / "state.db") as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {"snapshots", "recovery_jobs", "recovery_custody_events"} <= tables


def _sql(store: JobStore, *statements: str) -> None:
    connection = sqlite3.connect(store.db_path)
    with connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE recovery_custody_events SET actor = 'mallory'",
        "DELETE FROM recovery_custody_events",
    ],
)
def test_events_are_append_only(store, job, statement):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        _sql(store, statement)
    assert store.verify_chain(job.job_id)[0] is True


DROP_TRIGGERS = (
    "DROP TRIGGER recovery_custody_no_update",
    "DROP TRIGGER recovery_custody_no_delete",
)


@pytest.mark.parametrize(
    ("tamper", "explanation"),
    [
        (
            "UPDATE recovery_custody_events"
            ' SET details = \'{"consent_ref": "forged"}\' WHERE sequence = 1',
            "event 1 (job.opened) does not match its digest",
        ),
        (
            "UPDATE recovery_custody_events SET actor = 'mallory' WHERE sequence = 2",
            "event 2 (medium.attached)",
        ),
        ("DELETE FROM recovery_custody_events WHERE sequence = 2", "removed"),
        ("DELETE FROM recovery_custody_events WHERE sequence = 1", "event 1 is missing"),
        ("UPDATE recovery_jobs SET customer = 'Someone else'", "customer differs"),
        ("UPDATE recovery_jobs SET medium = NULL", "medium differs"),
        ("UPDATE recovery_jobs SET status = 'closed'", "status differs"),
    ],
)
def test_tampering_is_detected(store, job, tamper, explanation):
    store.attach(job.job_id, STICK, **WHO)
    assert store.verify_chain(job.job_id)[0] is True
    _sql(store, *DROP_TRIGGERS, tamper)
    verifies, text = store.verify_chain(job.job_id)
    assert verifies is False
    assert explanation in text


def test_removing_the_last_event_and_moving_the_head_back_is_detected(store, job):
    store.attach(job.job_id, STICK, **WHO)
    store.record_event(job.job_id, kind="note.added", details={"text": "x"}, **WHO)
    previous = store.events(job.job_id)[-2].digest
    _sql(
        store,
        *DROP_TRIGGERS,
        "DELETE FROM recovery_custody_events WHERE sequence = 3",
        f"UPDATE recovery_jobs SET head_digest = '{previous}'",
    )
    verifies, text = store.verify_chain(job.job_id)
    assert verifies is False
    assert "ledger records 3 events" in text and "removed from the end" in text


def test_an_altered_ledger_entry_is_detected(store, job):
    other = store.open_job(customer="B", consent_ref="CF-2", ticket=None, note=None, **WHO)
    _sql(
        store,
        "DROP TRIGGER recovery_ledger_no_update",
        "UPDATE recovery_ledger SET event_digest = 'forged' WHERE position = 1",
    )
    assert "ledger entry 1 does not match" in store.verify_chain(other.job_id)[1]
    assert store.store_problems() == ["ledger entry 1 does not match its digest: it was altered"]


def test_a_deleted_job_row_is_reported_and_its_id_never_given_out_again(store, job):
    second = store.open_job(customer="B", consent_ref="CF-2", ticket=None, note=None, **WHO)
    _sql(store, f"DELETE FROM recovery_jobs WHERE job_id = '{job.job_id}'")
    assert store.store_problems() == [
        f"job {job.job_id} was deleted: the ledger records it but its row is missing"
    ]
    with pytest.raises(errors.CustodyBrokenError, match="was deleted") as raised:
        store.get(job.job_id)
    assert raised.value.exit_code == 3
    third = store.open_job(customer="C", consent_ref="CF-3", ticket=None, note=None, **WHO)
    assert third.job_id == second.job_id[:-3] + "003"  # not 002 again (that was an IntegrityError)
    assert store.verify_chain(third.job_id)[0] is True


def test_state_files_and_job_folders_are_root_only(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    old_umask = os.umask(0o022)
    try:
        store = JobStore(state_dir / "state.db", state_dir / "jobs")
        job = store.open_job(customer="A", consent_ref="C", ticket=None, note=None, **WHO)
        with sqlite3.connect(store.db_path) as connection:  # WAL, as the backup side uses it
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS other (x)")
        JobStore(state_dir / "state.db", state_dir / "jobs")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.db_path.stat().st_mode) == 0o600
    for side in state_dir.glob("state.db-*"):
        assert stat.S_IMODE(side.stat().st_mode) == 0o600, side
    assert stat.S_IMODE(job.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.jobs_root.stat().st_mode) == 0o700


def test_a_symlinked_state_database_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("not a database")
    (tmp_path / "state.db").symlink_to(victim)
    with pytest.raises(errors.RefusedError, match="symlink"):
        JobStore(tmp_path / "state.db", tmp_path / "jobs")
    assert victim.read_text() == "not a database"


def test_schema_version_is_recorded_and_a_newer_one_refused(tmp_path, store):
    with sqlite3.connect(store.db_path) as connection:
        version = connection.execute(
            "SELECT version FROM schema_version WHERE component = 'recovery'"
        ).fetchone()[0]
        assert version == len(job_sql.MIGRATIONS)
        connection.execute("UPDATE schema_version SET version = 99 WHERE component = 'recovery'")
    with pytest.raises(errors.SchemaTooNew, match="version 99"):
        JobStore(store.db_path, store.jobs_root)


def test_a_database_from_before_the_ledger_is_adopted(tmp_path):
    db = tmp_path / "state.db"
    with sqlite3.connect(db) as connection:  # what the toolkit wrote before schema versions
        connection.executescript(job_sql.MIGRATIONS[0])
    store = JobStore(db, tmp_path / "jobs")
    job = store.open_job(customer="A", consent_ref="C", ticket=None, note=None, **WHO)
    _sql(store, "DROP TABLE recovery_ledger", "DROP TABLE recovery_ledger_head")
    _sql(store, "DELETE FROM schema_version", *_v2_tables_without_ledger())
    adopted = JobStore(db, tmp_path / "jobs")
    assert adopted.verify_chain(job.job_id) == (True, "custody chain of 1 events verifies")
    assert adopted.store_problems() == []


def _v2_tables_without_ledger() -> tuple[str, ...]:
    return ("DROP TABLE recovery_read_only", "DROP TABLE recovery_image_folders")


@pytest.mark.parametrize(
    ("field", "value"),
    [("consent_ref", "CF-1\nchain verifies"), ("ticket", "T 1"), ("consent_ref", "x" * 65)],
)
def test_references_with_other_characters_are_refused(store, field, value):
    fields = {"customer": "A", "consent_ref": "CF-1", "ticket": None, "note": None, field: value}
    with pytest.raises(errors.InvalidRequest, match="is not a reference") as raised:
        store.open_job(**fields, **WHO)
    assert raised.value.exit_code == 2 and store.list() == []


@pytest.mark.parametrize("job_id", ["J-1", "J-20250101-001\n", "../../etc", "J-20250101-001; x"])
def test_malformed_job_ids_are_refused(store, job_id):
    with pytest.raises(errors.InvalidRequest, match="is not a job id"):
        store.get(job_id)
