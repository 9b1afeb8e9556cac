"""Progress output: a tqdm bar on a terminal, log lines without one, JSON lines for scripts,
nothing when quiet."""

import json
import logging

from backupctl.cli import progress
from backupctl.progress import NoProgress, PeriodicProgress
from backupctl.restic.messages import Status

HALF = Status(
    percent_done=0.5,
    total_files=10,
    files_done=5,
    total_bytes=1_048_576,
    bytes_done=524_288,
    seconds_elapsed=1.0,
    seconds_remaining=1.0,
)


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
    assert events[0] == {
        "event": "backup-progress",
        "source": "shop",
        "percent": 0.5,
        "bytes_done": 524_288,
        "total_bytes": 1_048_576,
        "files_done": 5,
        "total_files": 10,
        "seconds_remaining": 1.0,
    }
    assert events[1] == {"event": "replication-started", "source": "shop", "total_bytes": 2048}


def test_quiet_wins_and_a_pipe_gets_log_lines_not_a_bar(monkeypatch):
    assert isinstance(progress.choose(quiet=True, as_json=True), NoProgress)
    assert isinstance(progress.choose(quiet=False, as_json=True), progress.JsonProgress)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False)
    assert type(progress.choose(quiet=False, as_json=False)) is progress.LogProgress
    assert progress.PROGRESS_LOGGER.isEnabledFor(logging.INFO)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _status(fraction: float) -> Status:
    return Status(
        percent_done=fraction,
        total_files=10,
        files_done=int(10 * fraction),
        total_bytes=1_048_576,
        bytes_done=int(1_048_576 * fraction),
        seconds_elapsed=1.0,
        seconds_remaining=30.0,
    )


def test_periodic_progress_is_start_end_and_at_most_one_line_per_interval():
    clock, events = FakeClock(), []
    periodic = PeriodicProgress(
        lambda event, fields: events.append((clock.now, event)), clock=clock, interval=10
    )
    periodic.backup_started("shop", "disk")
    for second in (1, 5, 9.9, 10, 15, 19.9, 20, 21, 35):
        clock.now = 1000 + second
        periodic.backup_status("shop", _status(second / 40))
    periodic.backup_finished("shop")
    assert events == [
        (1000, "backup-started"),
        (1010, "backup-progress"),
        (1020, "backup-progress"),
        (1035, "backup-progress"),
        (1035, "backup-finished"),
    ]


def test_periodic_progress_counts_copied_bytes_between_lines():
    clock, events = FakeClock(), []
    periodic = PeriodicProgress(
        lambda event, fields: events.append((event, fields)), clock=clock, interval=10
    )
    periodic.replication_started("shop", 3000)
    for second in (1, 2, 11, 12):
        clock.now = 1000 + second
        periodic.replication_bytes("shop", 500)
    periodic.replication_finished("shop")
    assert events == [
        ("replication-started", {"source": "shop", "total_bytes": 3000}),
        ("replication-progress", {"source": "shop", "bytes_done": 1500, "total_bytes": 3000}),
        ("replication-finished", {"source": "shop", "bytes_done": 2000, "total_bytes": 3000}),
    ]


def test_log_lines_carry_counts_and_sizes_never_file_names(caplog, monkeypatch):
    clock = FakeClock()
    lines = progress.LogProgress(clock=clock, interval=10)
    caplog.set_level(logging.INFO, logger="backupctl.progress")
    lines.backup_started("shop", "disk")
    clock.now += 10
    lines.backup_status("shop", _status(0.5))
    lines.backup_finished("shop")
    lines.replication_started("shop", 2048)
    lines.replication_bytes("shop", 1024)
    lines.replication_finished("shop")
    assert [record.getMessage() for record in caplog.records] == [
        "progress: shop: backup to disk started",
        "progress: shop: backup 50%: 512.0 KiB of 1.0 MiB, 5/10 files, about 30s left",
        "progress: shop: backup finished: 512.0 KiB of 1.0 MiB, 5/10 files",
        "progress: shop: copying 2.0 KiB to the other locations",
        "progress: shop: copies finished: 1.0 KiB of 2.0 KiB",
    ]


def test_json_progress_has_phase_events_and_throttles_status(capsys):
    clock = FakeClock()
    lines = progress.JsonProgress(clock=clock, interval=10)
    lines.backup_started("shop", "disk")
    for _ in range(50):  # restic --json sends status 60 times a second
        clock.now += 0.1
        lines.backup_status("shop", HALF)
    lines.backup_finished("shop")
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == ["backup-started", "backup-finished"]


def test_backup_finished_leaves_out_the_empty_counts_of_restics_first_status():
    events = []
    periodic = PeriodicProgress(lambda event, fields: events.append(fields), clock=FakeClock())
    periodic.backup_started("shop", "disk")
    periodic.backup_status(
        "shop",
        Status(
            percent_done=0.0,
            total_files=0,
            files_done=0,
            total_bytes=0,
            bytes_done=0,
            seconds_elapsed=0.0,
            seconds_remaining=None,
        ),
    )
    periodic.backup_finished("shop")
    assert events[-1] == {"source": "shop"}


def test_scan_progress_is_an_event_per_phase_and_throttled_within_one():
    from backupctl.progress import PeriodicProgress

    events = []
    now = [0.0]
    reporter = PeriodicProgress(lambda event, fields: events.append(fields), clock=lambda: now[0])
    reporter.scan_progress("J-1", "listing", 0, 0)
    reporter.scan_progress("J-1", "recovering", 10, 100)
    reporter.scan_progress("J-1", "recovering", 20, 100)  # same phase, within the interval
    now[0] = 11.0
    reporter.scan_progress("J-1", "recovering", 90, 100)
    reporter.scan_finished("J-1")
    assert [(item["phase"], item["done"]) for item in events] == [
        ("listing", 0),
        ("recovering", 10),
        ("recovering", 90),
    ]
    assert all(item["source"] == "J-1" for item in events)
