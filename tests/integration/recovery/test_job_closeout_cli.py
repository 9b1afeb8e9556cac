"""Report, close-out and purge through the installed `backupctl job` command, on a file-backed
job (image, mapfile and scan output as imaging and scanning leave them; no device needed)."""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import stat

import pytest

from recovery.jobs import JobStore
from tests.fixtures import repair_job
from tests.integration.recovery.test_jobs_cli import run_cli


@pytest.fixture
def imaged(tmp_path):
    store = JobStore(tmp_path / "state.db", tmp_path / "jobs")
    return repair_job.imaged_and_scanned(store, tmp_path), store


def _in_days(days: int) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
    return moment.isoformat(timespec="seconds")


def test_report_is_written_root_only_and_recorded(tmp_path, imaged):
    found, store = imaged
    target = tmp_path / "out.html"
    result = run_cli(tmp_path, "job", "report", found.job.job_id, "--to", str(target), "--json")
    assert result.returncode == 0, result.stderr
    written = json.loads(result.stdout)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    page = target.read_text()
    assert 'id="sector-map"' in page and "deleted/contract.pdf" in page
    event = store.events(found.job.job_id)[-1]
    assert event.kind == "report.written" and event.details["sha256"] == written["sha256"]


def test_report_refuses_a_symlink_target(tmp_path, imaged):
    found, _store = imaged
    precious = tmp_path / "precious"
    precious.write_text("keep")
    (tmp_path / "link.html").symlink_to(precious)
    result = run_cli(
        tmp_path, "job", "report", found.job.job_id, "--to", str(tmp_path / "link.html")
    )
    assert result.returncode == 4 and "not a regular file" in result.stderr
    assert precious.read_text() == "keep"


def test_report_default_goes_to_the_job_folder(tmp_path, imaged):
    found, _store = imaged
    result = run_cli(tmp_path, "job", "report", found.job.job_id)
    assert result.returncode == 0, result.stderr
    assert (found.job.folder / f"{found.job.job_id}-report.html").is_file()


def test_show_prints_custody_as_sentences_and_the_deletion_plan(tmp_path, imaged):
    found, _store = imaged
    shown = run_cli(tmp_path, "job", "show", found.job.job_id)
    assert shown.returncode == 0, shown.stderr
    assert "imaging finished: 54.69% rescued" in shown.stdout
    assert "image scanned, recovered files written to" in shown.stdout
    assert "deleted 30 days after the job is closed" in shown.stdout
    assert '"totals"' not in shown.stdout  # readable lines, not raw JSON
    assert "dropped\\nchain    verifies: forged" in shown.stdout  # escaped, not a forged line
    as_json = json.loads(run_cli(tmp_path, "job", "show", found.job.job_id, "--json").stdout)
    assert as_json["events"][-1]["text"].startswith("image scanned, recovered files written to")
    assert "deleted 30 days after" in as_json["copies"]


def test_close_needs_an_outcome(tmp_path, imaged):
    found, _store = imaged
    result = run_cli(tmp_path, "job", "close", found.job.job_id)
    assert result.returncode == 2 and "--outcome" in result.stderr
    bad = run_cli(tmp_path, "job", "close", found.job.job_id, "--outcome", "lost")
    assert bad.returncode == 2


def test_close_then_purge_when_due_with_a_destruction_record(tmp_path, imaged):
    found, store = imaged
    job_id = found.job.job_id
    closed = run_cli(tmp_path, "job", "close", job_id, "--outcome", "recovered")
    assert closed.returncode == 0, closed.stderr
    assert "to be deleted after" in closed.stdout
    early = run_cli(tmp_path, "job", "purge", "--as-of", _in_days(29))
    assert early.returncode == 0 and early.stdout.strip() == "nothing due"
    dry = run_cli(tmp_path, "job", "purge", "--as-of", _in_days(31), "--dry-run")
    assert dry.returncode == 0 and str(found.image) in dry.stdout and found.image.exists()
    purged = run_cli(tmp_path, "job", "purge", "--as-of", _in_days(31), "--json")
    assert purged.returncode == 0, purged.stderr
    assert not found.image.exists() and not found.mapfile.exists()
    assert not found.scan_dir.exists()
    record = store.events(job_id)[-1]
    assert record.kind == "copies.destroyed" and record.details["failed"] == 0
    deleted = {item["what"]: item for item in record.details["items"]}
    finished = [event for event in store.events(job_id) if event.kind == "image.finished"]
    assert deleted["image"]["size"] == 4096
    assert deleted["image"]["sha256"] == finished[0].details["sha256"]
    assert deleted["recovered files"]["files"] == 4  # three files and manifest.json
    assert store.verify_chain(job_id)[0]
    again = run_cli(tmp_path, "job", "purge", "--as-of", _in_days(40))
    assert again.stdout.strip() == "nothing due"
    shown = run_cli(tmp_path, "job", "show", job_id)
    assert "copies   The workshop's copies were deleted on" in shown.stdout
    report = run_cli(tmp_path, "job", "report", job_id, "--to", str(tmp_path / "after.html"))
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "after.html").read_text()
    assert "deleted with the workshop&#x27;s copies" in page and "is gone" in page


def test_purge_never_deletes_through_a_swapped_symlink(tmp_path, imaged):
    found, store = imaged
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    for path in found.scan_dir.rglob("*"):
        if path.is_file():
            path.unlink()
    for path in sorted(found.scan_dir.rglob("*"), reverse=True):
        path.rmdir()
    found.scan_dir.rmdir()
    found.scan_dir.symlink_to(outside)
    run_cli(tmp_path, "job", "close", found.job.job_id, "--outcome", "returned")
    purged = run_cli(tmp_path, "job", "purge", "--as-of", _in_days(31))
    assert purged.returncode == 1 and "INCOMPLETE" in purged.stdout
    assert (outside / "precious").read_text() == "keep" and not found.image.exists()
    record = store.events(found.job.job_id)[-1]
    assert record.details["failed"] == 1
    shown = run_cli(tmp_path, "job", "show", found.job.job_id)
    assert "NOT deleted" in shown.stdout and "deletion is pending" in shown.stdout


def test_configured_days_set_the_deletion_date(tmp_path, imaged):
    found, _store = imaged
    config = tmp_path / "backupctl.toml"
    config.write_text(f'[backupctl]\nstate_dir = "{tmp_path}"\njob_copies_days = 2\n')
    env = {"BACKUPCTL_CONFIG": str(config)}
    closed = run_cli(tmp_path, "job", "close", found.job.job_id, "--outcome", "declined", env=env)
    assert closed.returncode == 0, closed.stderr
    assert "(in 1 days)" in closed.stdout
    purged = run_cli(tmp_path, "job", "purge", "--as-of", _in_days(3), env=env)
    assert purged.returncode == 0 and not found.image.exists()


def test_purge_obeys_no_altered_record(tmp_path, imaged):
    found, _store = imaged
    run_cli(tmp_path, "job", "close", found.job.job_id, "--outcome", "recovered")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep")
    with sqlite3.connect(tmp_path / "state.db") as connection:
        connection.execute("DROP TRIGGER recovery_custody_no_update")
        connection.execute(
            "UPDATE recovery_custody_events SET details = replace(details, ?, ?)",
            (str(found.image), str(precious)),
        )
    purged = run_cli(tmp_path, "job", "purge", "--as-of", _in_days(31))
    assert purged.returncode == 1 and "does not verify" in purged.stdout
    assert precious.read_text() == "keep" and found.mapfile.exists()


def test_report_over_a_broken_chain_says_so_and_exits_3(tmp_path, imaged):
    found, _store = imaged
    with sqlite3.connect(tmp_path / "state.db") as connection:
        connection.execute("DROP TRIGGER recovery_custody_no_update")
        connection.execute(
            "UPDATE recovery_custody_events SET actor = 'mallory' WHERE sequence = 2"
        )
    target = tmp_path / "broken.html"
    result = run_cli(tmp_path, "job", "report", found.job.job_id, "--to", str(target))
    assert result.returncode == 3 and "does not verify" in result.stderr
    assert "Tamper check FAILED" in target.read_text()
