"""A scheduled job waits its turn at a source another run holds; a run started by hand is
refused at once. Real restic on two local locations (no SFTP or S3 needed to show the lock)."""

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
