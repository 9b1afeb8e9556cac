"""Progress output: a tqdm bar on a terminal, JSON lines for scripts, nothing when quiet."""

import json

from backupctl.cli import progress
from backupctl.progress import NoProgress
from backupctl.restic.messages import Status

HALF = Status(percent_done=0.5, total_files=10, files_done=5, total_bytes=1_048_576,
              bytes_done=524_288, seconds_elapsed=1.0, seconds_remaining=1.0)


def test_tqdm_bar_shows_bytes_percent_and_files(capsys):
    bar = progress.TqdmProgress()
    bar.backup_started("shop", "disk")
    bar.backup_status("shop", HALF)
    bar.backup_finished("shop")
    bar.replication_started("shop", 2048)
    bar.replication_bytes("shop", 1024)
    bar.replication_finished("shop")
    shown = capsys.readouterr().err
    assert "shop → disk" in shown and "50%" in shown and "5/10 files" in shown
    assert "512k/1.00M" in shown
    assert "shop copies" in shown


def test_json_progress_is_one_object_per_line_on_stderr(capsys):
    lines = progress.JsonProgress()
    lines.backup_status("shop", HALF)
    lines.replication_started("shop", 2048)
    captured = capsys.readouterr()
    assert captured.out == ""
    events = [json.loads(line) for line in captured.err.splitlines()]
    assert events[0] == {"event": "backup-progress", "source": "shop", "percent": 0.5,
                         "bytes_done": 524_288, "total_bytes": 1_048_576, "files_done": 5,
                         "total_files": 10, "seconds_remaining": 1.0}
    assert events[1] == {"event": "replication-started", "source": "shop", "total_bytes": 2048}


def test_quiet_wins_and_a_pipe_gets_no_bar(monkeypatch):
    assert isinstance(progress.choose(quiet=True, as_json=True), NoProgress)
    assert isinstance(progress.choose(quiet=False, as_json=True), progress.JsonProgress)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False)
    assert type(progress.choose(quiet=False, as_json=False)) is NoProgress
