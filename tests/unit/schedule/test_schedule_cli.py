"""`schedule install|show|remove` through the installed command, into a temporary unit
directory: files root-only, a symlink never followed, stale units removed, foreign files kept,
`show` telling installed, differing and missing jobs apart."""

from __future__ import annotations

import json
import os
import subprocess

from backupctl.schedule import units
from tests.unit.schedule.conftest import BACKUPCTL


def _run(config, *args):
    return subprocess.run(
        (str(BACKUPCTL), "--config", str(config.path), "schedule", *args),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _show(config):
    result = _run(config, "show", "--json")
    return result.returncode, json.loads(result.stdout)


def test_install_show_and_remove(schedule_config):
    unit_dir = schedule_config.operations.unit_dir
    code, shown = _show(schedule_config)
    assert code == 1 and {job["installed"] for job in shown["jobs"]} == {""}

    result = _run(schedule_config, "install", "--no-activate")
    assert result.returncode == 0, result.stderr
    names = sorted(os.listdir(unit_dir))
    assert len(names) == 14
    assert all(os.stat(unit_dir / name).st_mode & 0o777 == 0o600 for name in names)

    code, shown = _show(schedule_config)
    assert code == 0, shown
    assert all(job["installed"] == "systemd" and job["matches"] for job in shown["jobs"])
    assert {job["name"] for job in shown["jobs"]} >= {"backup-web", "drill", "job-purge"}

    (unit_dir / "backupctl-rotate.timer").write_text(units.MARKER + "\n[Timer]\nOnCalendar=daily\n")
    code, shown = _show(schedule_config)
    rotate = next(job for job in shown["jobs"] if job["name"] == "rotate")
    assert code == 1 and rotate["installed"] == "systemd" and rotate["matches"] is False

    (unit_dir / "backupctl-other.service").write_text(
        "[Service]\nExecStart=/bin/true\n"
    )  # not ours
    result = _run(schedule_config, "remove", "--no-activate")
    assert result.returncode == 0, result.stderr
    assert os.listdir(unit_dir) == ["backupctl-other.service"]


def test_install_removes_units_of_a_job_the_config_no_longer_has(schedule_config):
    unit_dir = schedule_config.operations.unit_dir
    assert _run(schedule_config, "install", "--no-activate").returncode == 0
    text = schedule_config.path.read_text()
    schedule_config.path.write_text(text.split("[sources.mail]")[0])
    code, shown = _show(schedule_config)
    assert code == 1 and shown["stale"] == [
        "backupctl-backup-mail.service",
        "backupctl-backup-mail.timer",
    ]
    result = _run(schedule_config, "install", "--no-activate")
    assert "removed" in result.stdout and "backup-mail" in result.stdout
    assert not (unit_dir / "backupctl-backup-mail.timer").exists()


def test_a_symlink_where_a_unit_goes_is_refused_and_not_followed(schedule_config, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep me\n")
    (schedule_config.operations.unit_dir / "backupctl-rotate.service").symlink_to(target)
    result = _run(schedule_config, "install", "--no-activate")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert target.read_text() == "keep me\n"


def test_cron_install_and_dry_run(schedule_config):
    cron = schedule_config.operations.cron_file
    assert _run(schedule_config, "install", "--no-activate").returncode == 0
    dry = _run(schedule_config, "install", "--cron", "--dry-run")
    assert dry.returncode == 0 and "schedule run drill" in dry.stdout
    assert not cron.exists()
    assert _run(schedule_config, "install", "--cron", "--no-activate").returncode == 0
    assert cron.stat().st_mode & 0o777 == 0o600
    assert os.listdir(schedule_config.operations.unit_dir) == []  # one kind at a time
    code, shown = _show(schedule_config)
    assert code == 0 and {job["installed"] for job in shown["jobs"]} == {"cron"}
    assert _run(schedule_config, "install", "--no-activate").returncode == 0
    assert not cron.exists()


def test_show_prints_the_next_run_of_each_job(schedule_config):
    result = _run(schedule_config, "show")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["job", "installed", "next"]
    web = next(line for line in lines if line.startswith("backup-web"))
    assert "every 6h" in web and "NO" in web


def test_remove_takes_the_cron_file_too(schedule_config):
    cron = schedule_config.operations.cron_file
    assert _run(schedule_config, "install", "--cron", "--no-activate").returncode == 0
    result = _run(schedule_config, "remove", "--no-activate")
    assert result.returncode == 0 and f"removed {cron}" in result.stdout
    assert not cron.exists()
