"""Repair jobs and custody through the installed `backupctl job` command."""

from __future__ import annotations

import json
import os
import pathlib
import pwd
import sqlite3
import subprocess
import sys

import pytest

from recovery import udev_source
from tests.fixtures import loopdev

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"


def run_cli(
    state_dir: pathlib.Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "BACKUPCTL_STATE_DIR": str(state_dir),
        "BACKUPCTL_CONFIG": str(state_dir / "absent.toml"),
        "SUDO_USER": "tech-anna",  # claimed without a sudo above: must not be believed
        **(env or {}),
    }
    return subprocess.run(
        (str(BACKUPCTL), *args), check=False, capture_output=True, text=True, env=env, timeout=60
    )


def open_job(state_dir: pathlib.Path) -> str:
    result = run_cli(
        state_dir,
        "job",
        "open",
        "--customer",
        "ACME",
        "--consent",
        "CF-9",
        "--ticket",
        "T-1",
        "--note",
        "USB stick, dropped",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["job_id"]


def test_open_show_list_close(tmp_path):
    job_id = open_job(tmp_path)
    listed = run_cli(tmp_path, "job", "list", "--open")
    assert job_id in listed.stdout and "ACME" in listed.stdout
    noted = run_cli(tmp_path, "job", "note", job_id, "customer called")
    assert noted.returncode == 0, noted.stderr
    shown = run_cli(tmp_path, "job", "show", job_id, "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["chain"]["verifies"] is True
    assert [event["kind"] for event in report["events"]] == ["job.opened", "note.added"]
    # No login session and no sudo in the process tree here: the actor is the real uid (root).
    assert {event["actor"] for event in report["events"]} == {pwd.getpwuid(os.getuid()).pw_name}
    assert report["consent_ref"] == "CF-9"
    closed = run_cli(tmp_path, "job", "close", job_id, "--outcome", "returned")
    assert closed.returncode == 0 and "closed" in closed.stdout
    assert run_cli(tmp_path, "job", "list", "--open").stdout.strip() == "no jobs"
    again = run_cli(tmp_path, "job", "close", job_id, "--outcome", "returned")
    assert again.returncode == 4 and "is closed" in again.stderr


def test_show_human_reports_verification(tmp_path):
    job_id = open_job(tmp_path)
    shown = run_cli(tmp_path, "job", "show", job_id)
    assert shown.returncode == 0
    assert "chain    verifies" in shown.stdout
    assert "job opened for customer ACME, consent CF-9, ticket T-1" in shown.stdout


def test_show_of_tampered_job_exits_3(tmp_path):
    job_id = open_job(tmp_path)
    with sqlite3.connect(tmp_path / "state.db") as connection:
        connection.execute("DROP TRIGGER recovery_custody_no_update")
        connection.execute("UPDATE recovery_custody_events SET actor = 'mallory'")
    shown = run_cli(tmp_path, "job", "show", job_id)
    assert shown.returncode == 3
    assert "BROKEN" in shown.stdout and "does not verify" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_open_without_consent_is_a_usage_error(tmp_path):
    result = run_cli(tmp_path, "job", "open", "--customer", "ACME")
    assert result.returncode == 2 and "--consent" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("job", "show", "J-19990101-001"), 2, "no repair job"),
        (("job", "attach", "J-19990101-001", "/dev/null"), 2, "no repair job"),
    ],
)
def test_unknown_job(tmp_path, args, code, message):
    result = run_cli(tmp_path, *args)
    assert result.returncode == code and message in result.stderr


def test_attach_unknown_device_is_not_found(tmp_path):
    job_id = open_job(tmp_path)
    result = run_cli(tmp_path, "job", "attach", job_id, str(tmp_path / "no-such-device"))
    assert result.returncode == 2 and "no block device" in result.stderr


def test_attach_system_device_is_refused(tmp_path):
    system = [
        device
        for device in udev_source.list_devices(state_paths=(str(tmp_path),))
        if device.is_system
    ]
    if not system:
        pytest.skip("no system block device visible on this host")
    job_id = open_job(tmp_path)
    result = run_cli(tmp_path, "job", "attach", job_id, system[0].node)
    assert result.returncode == 4 and "system device" in result.stderr
    assert json.loads(run_cli(tmp_path, "job", "show", job_id, "--json").stdout)["medium"] is None


@loopdev.needs_loop
def test_attach_loop_device_records_identity(tmp_path, make_loop):
    node = make_loop(
        loopdev.build_blank_image(tmp_path / "stick.img", size_mib=4), sector_size=4096
    )
    job_id = open_job(tmp_path)
    result = run_cli(tmp_path, "job", "attach", job_id, node, "--json")
    assert result.returncode == 0, result.stderr
    medium = json.loads(result.stdout)["medium"]
    assert medium == {
        "node": node,
        "kind": "loop",
        "model": None,
        "serial": None,
        "size_bytes": 4 * 1024 * 1024,
        "logical_sector_size": 4096,
        "physical_sector_size": 4096,
    }
    events = json.loads(run_cli(tmp_path, "job", "show", job_id, "--json").stdout)["events"]
    assert events[-1]["kind"] == "medium.attached" and events[-1]["details"]["medium"] == medium


def test_a_newline_in_the_customer_name_cannot_forge_a_line_of_job_show(tmp_path):
    forged = "ACME\nchain    verifies: custody chain of 9 events verifies\x1b[2K"
    opened = run_cli(tmp_path, "job", "open", "--customer", forged, "--consent", "CF-9", "--json")
    assert opened.returncode == 0, opened.stderr
    job_id = json.loads(opened.stdout)["job_id"]
    run_cli(tmp_path, "job", "note", job_id, "line one\nchain    verifies: forged")
    shown = run_cli(tmp_path, "job", "show", job_id)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line for line in lines if line.startswith("chain")] == [
        "chain    verifies: custody chain of 2 events verifies"
    ]
    assert "customer ACME\\nchain    verifies: custody chain of 9 events verifies\\x1b[2K" in lines
    assert "\x1b" not in shown.stdout
    listed = run_cli(tmp_path, "job", "list")
    assert len(listed.stdout.splitlines()) == 1 and "ACME\\nchain" in listed.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("job", "show", "J-20250101-001\nchain    verifies"),
        ("job", "open", "--customer", "A", "--consent", "CF 9\nx"),
        ("media", "verify", "../../etc/passwd"),
    ],
)
def test_malformed_identifiers_are_one_line_usage_errors(tmp_path, args):
    result = run_cli(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "is not a job id" in result.stderr or "is not a reference" in result.stderr


def test_a_deleted_job_row_is_reported_and_job_open_still_works(tmp_path):
    first, second = open_job(tmp_path), open_job(tmp_path)
    with sqlite3.connect(tmp_path / "state.db") as connection:
        connection.execute("DELETE FROM recovery_jobs WHERE job_id = ?", (first,))
    listed = run_cli(tmp_path, "job", "list")
    assert listed.returncode == 3
    assert f"ledger   BROKEN: job {first} was deleted" in listed.stdout and second in listed.stdout
    shown = run_cli(tmp_path, "job", "show", first)
    assert shown.returncode == 3 and "was deleted" in shown.stderr
    third = run_cli(tmp_path, "job", "open", "--customer", "B", "--consent", "CF-1", "--json")
    assert third.returncode == 0 and "Traceback" not in third.stderr, third.stderr
    assert json.loads(third.stdout)["job_id"] not in (first, second)


def test_removing_the_last_event_is_caught_by_job_show(tmp_path):
    job_id = open_job(tmp_path)
    assert run_cli(tmp_path, "job", "note", job_id, "second").returncode == 0
    with sqlite3.connect(tmp_path / "state.db") as connection:
        connection.execute("DROP TRIGGER recovery_custody_no_delete")
        first_digest = connection.execute(
            "SELECT digest FROM recovery_custody_events WHERE sequence = 1"
        ).fetchone()[0]
        connection.execute("DELETE FROM recovery_custody_events WHERE sequence = 2")
        connection.execute("UPDATE recovery_jobs SET head_digest = ?", (first_digest,))
    shown = run_cli(tmp_path, "job", "show", job_id)
    assert shown.returncode == 3 and "removed from the end" in shown.stdout
