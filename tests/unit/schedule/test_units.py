"""The generated units: systemd itself parses them (systemd-analyze verify), each is hardened,
writes only where its job writes, and a path that would need quoting is refused."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

from backupctl.errors import ConfigError
from backupctl.schedule import units
from tests.fixtures.requirements import skip_or_fail
from tests.unit.schedule.conftest import BACKUPCTL


def _verify(directory: pathlib.Path) -> subprocess.CompletedProcess:
    """systemd-analyze verify without systemd as PID 1: --man=no (no man pages looked up),
    --generators=no (no generators run); it still loads and parses every unit given."""
    if shutil.which("systemd-analyze") is None:
        skip_or_fail("systemd-analyze not installed (Debian package systemd)")
    paths = sorted(str(path) for path in directory.iterdir())
    return subprocess.run(
        ("systemd-analyze", "verify", "--man=no", "--generators=no", *paths),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _write(directory: pathlib.Path, files: dict[str, str]) -> None:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def test_systemd_parses_every_generated_unit_without_a_complaint(schedule_config, tmp_path):
    files = units.systemd_files(BACKUPCTL, schedule_config.path, schedule_config)
    _write(tmp_path / "check", files)
    result = _verify(tmp_path / "check")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


def test_systemd_analyze_does_complain_about_a_broken_unit(schedule_config, tmp_path):
    """The check above can fail: the same call reports a misspelt setting in our unit."""
    files = units.systemd_files(BACKUPCTL, schedule_config.path, schedule_config)
    broken = files["backupctl-rotate.service"].replace(
        "ProtectSystem=strict", "ProtectSystem=strct"
    )
    _write(tmp_path / "broken", {"backupctl-rotate.service": broken})
    result = _verify(tmp_path / "broken")
    assert "ProtectSystem" in result.stderr or "protect system" in result.stderr


def test_one_service_and_timer_per_job(schedule_config):
    files = units.systemd_files(BACKUPCTL, schedule_config.path, schedule_config)
    jobs = {"backup-web", "backup-mail", "rotate", "verify", "check", "drill", "job-purge"}
    assert set(files) == {
        f"backupctl-{job}.{kind}" for job in jobs for kind in ("service", "timer")
    }
    for job in jobs:
        assert "Persistent=true" in files[f"backupctl-{job}.timer"]
        assert f"schedule run {job}\n" in files[f"backupctl-{job}.service"]
    assert "OnCalendar=*-*-* 00/6:" in files["backupctl-backup-web.timer"]  # schedule = "6h"


def _settings(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#")


def test_every_service_is_hardened(schedule_config):
    for job in units.jobs(schedule_config):
        found = _settings(units.service_text(BACKUPCTL, schedule_config.path, job))
        for setting in units.HARDENING:
            key, value = setting.split("=", 1)
            assert found[key] == value, (job.name, key)
        assert found["ProtectSystem"] == "strict"
        assert found["PrivateTmp"] == found["NoNewPrivileges"] == found["PrivateDevices"] == "yes"


def test_a_backup_writes_only_state_cache_and_its_own_locations(schedule_config, tmp_path):
    job = next(job for job in units.jobs(schedule_config) if job.name == "backup-web")
    found = _settings(units.service_text(BACKUPCTL, schedule_config.path, job))
    assert found["ReadWritePaths"].split() == [
        f"-{tmp_path}/state",
        f"-{tmp_path}/state/restic-cache",
        f"-{tmp_path}/disk",
        f"-{tmp_path}/far",
        f"-{tmp_path}/metrics",
    ]
    assert found["CapabilityBoundingSet"] == "CAP_DAC_READ_SEARCH"


def test_rotation_writes_every_local_location_and_has_no_capabilities(schedule_config, tmp_path):
    job = next(job for job in units.jobs(schedule_config) if job.name == "rotate")
    found = _settings(units.service_text(BACKUPCTL, schedule_config.path, job))
    assert {f"-{tmp_path}/{name}" for name in ("disk", "far", "other")} <= set(
        found["ReadWritePaths"].split()
    )
    assert found["CapabilityBoundingSet"] == ""
    purge = next(job for job in units.jobs(schedule_config) if job.name == "job-purge")
    assert f"-{tmp_path}/disk" not in units.service_text(BACKUPCTL, schedule_config.path, purge)


@pytest.mark.parametrize("bad", ["/srv/my backups", "/srv/100%", '/srv/"x"', "/srv/a\nb"])
def test_a_path_that_would_need_quoting_is_refused(schedule_config, bad):
    job = units.jobs(schedule_config)[0]
    with pytest.raises(ConfigError, match="may hold only"):
        units.service_text(pathlib.Path(bad), schedule_config.path, job)


def test_cron_runs_each_job_as_root_at_its_calendar(schedule_config):
    text = units.cron_text(BACKUPCTL, schedule_config.path, schedule_config)
    assert text.startswith(units.MARKER)
    lines = [line for line in text.splitlines() if " root " in line]
    assert len(lines) == 7
    web = next(line for line in lines if line.endswith("schedule run backup-web"))
    assert web.split()[1] == "*/6" and web.split()[5] == "root"


@pytest.mark.parametrize(("days", "percent"), [(28, 25), (7, 100), (1, 100), (30, 25), (90, 9)])
def test_the_weekly_verify_reads_everything_within_check_read_days(days, percent):
    assert units.verify_sample(days) == percent


def test_the_verify_job_reads_its_share(schedule_config):
    job = next(job for job in units.jobs(schedule_config) if job.name == "verify")
    assert job.arguments == ("verify", "--sample", "25")
