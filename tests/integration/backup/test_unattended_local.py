"""Unattended runs on real restic with two local locations (no SFTP or S3 needed for these): a
scheduled job waits its turn at a source another run holds while a run started by hand is
refused at once; a drill stopped by SIGTERM leaves no scratch copy behind."""

from __future__ import annotations

import subprocess

from backupctl import runlock
from backupctl.keys import master_secret
from tests.unit.schedule.conftest import BACKUPCTL
from tests.unit.schedule.test_schedule_run import _config


def test_a_scheduled_job_waits_for_the_run_on_its_source(tmp_path):
    """Real restic on two local locations: a scheduled check waits while another run holds the
    source (a manual check is refused at once), and runs when the holder is done."""
    for name in ("disk", "far", "data"):
        (tmp_path / name).mkdir()
    (tmp_path / "data" / "a.txt").write_text("customer data")
    master_secret.generate_master_key_file(tmp_path / "master.key")
    path = _config(tmp_path, "lock_wait_minutes = 5\n")
    path.write_text(
        path.read_text()
        + f'\n[locations.disk]\nkind = "local"\npath = "{tmp_path}/disk"\ncountry = "NL"\n'
        "offsite = false\n"
        f'\n[locations.far]\nkind = "local"\npath = "{tmp_path}/far"\ncountry = "DE"\n'
        "offsite = true\n"
        f'\n[sources.web]\npaths = ["{tmp_path}/data"]\ntenant = "acme"\n'
        'locations = ["disk", "far"]\n'
    )
    command = (str(BACKUPCTL), "--config", str(path))
    subprocess.run((*command, "init"), check=True, capture_output=True, timeout=120)
    with runlock.source_lock(tmp_path / "state", "web"):
        manual = subprocess.run((*command, "check"), capture_output=True, text=True, timeout=120)
        assert manual.returncode == 3 and "another backupctl run" in manual.stdout
        scheduled = subprocess.Popen(
            (*command, "schedule", "run", "check"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = []
        while not any("waiting" in line for line in lines) and len(lines) < 50:
            lines.append(scheduled.stderr.readline())  # blocks until it says something
            if not lines[-1]:
                break  # it ended
        assert "source web: waiting up to 300s" in lines[-1], lines
        assert scheduled.poll() is None
    stdout, _ = scheduled.communicate(timeout=120)
    assert scheduled.returncode == 0, stdout
    assert "web: ok     disk" in stdout and "web: ok     far" in stdout


def test_a_drill_stopped_by_sigterm_leaves_nothing_behind(tmp_path):
    """SIGTERM (systemd stopping the unit) while the drill's scratch copy exists: the drill
    stops, exits 130, records the interruption, and the copy is gone."""
    import json
    import os
    import signal
    import sqlite3
    import time

    for name in ("disk", "far", "data"):
        (tmp_path / name).mkdir()
    for index in range(5):
        (tmp_path / "data" / f"f{index}.bin").write_bytes(os.urandom(2_000_000))
    master_secret.generate_master_key_file(tmp_path / "master.key")
    path = _config(tmp_path, "")
    path.write_text(
        path.read_text()
        + f'\n[locations.disk]\nkind = "local"\npath = "{tmp_path}/disk"\ncountry = "NL"\n'
        "offsite = false\n"
        f'\n[locations.far]\nkind = "local"\npath = "{tmp_path}/far"\ncountry = "DE"\n'
        "offsite = true\n"
        f'\n[sources.web]\npaths = ["{tmp_path}/data"]\ntenant = "acme"\n'
        'locations = ["disk", "far"]\n'
    )
    command = (str(BACKUPCTL), "--config", str(path))
    subprocess.run((*command, "init"), check=True, capture_output=True, timeout=120)
    subprocess.run((*command, "backup"), check=True, capture_output=True, timeout=300)
    scratch = tmp_path / "state" / "drills" / "web"
    drill = subprocess.Popen((*command, "drill"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while drill.poll() is None and not list(scratch.glob("run-*/*")):  # restoring has begun
        assert time.monotonic() < deadline, "the drill never started restoring"
        time.sleep(0.005)
    drill.send_signal(signal.SIGTERM)
    drill.communicate(timeout=120)
    assert drill.returncode == 130
    assert list(scratch.iterdir()) == []
    with sqlite3.connect(tmp_path / "state" / "state.db") as connection:
        outcome, details = connection.execute(
            "SELECT outcome, details FROM audit_log WHERE action = 'drill.run' ORDER BY seq DESC"
        ).fetchone()
    assert outcome == "failed" and json.loads(details)["error"] == "interrupted"
