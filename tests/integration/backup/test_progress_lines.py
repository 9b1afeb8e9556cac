"""A scheduled run has no terminal: `backupctl backup` then writes progress lines to stderr (the
start and end of each phase), JSON lines with --json, and never a file name (clause 10.9)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from backupctl.keys import master_secret

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
SECRET_NAME = "salaries-2026-confidential.txt"


@pytest.fixture
def config(tmp_path, restic_binary) -> pathlib.Path:
    master = tmp_path / "master.key"
    master_secret.generate_master_key_file(master)
    for name in ("a", "b", "data"):
        (tmp_path / name).mkdir()
    (tmp_path / "data" / SECRET_NAME).write_text("figures\n" * 1000)
    path = tmp_path / "c.toml"
    path.write_text(
        f'[backupctl]\nstate_dir = "{tmp_path}/state"\nkeystore = "{tmp_path}/ks.bin"\n'
        f'master_key_file = "{master}"\nrestic = "{restic_binary}"\n'
        f'[locations.a]\nkind = "local"\npath = "{tmp_path}/a"\ncountry = "NL"\noffsite = false\n'
        f'[locations.b]\nkind = "local"\npath = "{tmp_path}/b"\ncountry = "DE"\noffsite = true\n'
        f'[sources.books]\npaths = ["{tmp_path}/data"]\ntenant = "t"\nlocations = ["a", "b"]\n'
    )
    init = _run(path, "init")
    assert init.returncode == 0, init.stdout + init.stderr
    return path


def _run(config: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    # stdin, stdout and stderr are pipes here, as under cron or systemd: no terminal
    return subprocess.run(
        (str(BACKUPCTL), "--config", str(config), *args),
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=300,
        check=False,
    )


def test_backup_without_a_terminal_logs_start_and_end_of_each_phase(config):
    result = _run(config, "backup")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if "progress: " in line]
    assert lines[0].endswith("progress: books: backup to a started"), result.stderr
    assert any("progress: books: backup finished" in line for line in lines), result.stderr
    assert any("progress: books: copies finished" in line for line in lines), result.stderr
    assert SECRET_NAME not in result.stderr + result.stdout


def test_backup_json_writes_progress_events_as_json_lines(config):
    result = _run(config, "backup", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    names = [event["event"] for event in events]
    assert names[0] == "backup-started" and "backup-finished" in names, result.stderr
    assert "replication-finished" in names
    assert events[0] == {"event": "backup-started", "source": "books", "location": "a"}
    assert SECRET_NAME not in result.stderr


def test_quiet_backup_writes_no_progress(config):
    result = _run(config, "backup", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "progress" not in result.stderr
