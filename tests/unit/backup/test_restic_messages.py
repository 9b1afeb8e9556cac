"""Parse restic's --json lines: real ones captured from /usr/bin/restic, and hand-made damaged
ones."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import subprocess

import pytest

from backupctl.restic import messages
from tests.fixtures.requirements import skip_or_fail

UTC = datetime.UTC


@dataclasses.dataclass(frozen=True)
class Capture:
    backup_stdout: list[str]
    backup_stderr: list[str]
    backup_returncode: int
    snapshots_stdout: str


@pytest.fixture(scope="module")
def real_restic(tmp_path_factory) -> Capture:
    """Run the real restic (Debian's 0.14, or whatever is on PATH) against a temporary repository:
    one backup of a small tree plus a file restic cannot read, then `snapshots --json`."""
    binary = shutil.which("restic")
    if binary is None:
        skip_or_fail("restic is not installed")
    unreadable = "/proc/sys/vm/compact_memory"  # mode 0200: even root cannot open it for reading
    if not os.path.exists(unreadable):
        skip_or_fail(f"{unreadable} is missing")
    base = tmp_path_factory.mktemp("restic")
    (base / "src").mkdir()
    (base / "src" / "a.txt").write_bytes(b"hello\n")
    (base / "src" / "b.bin").write_bytes(os.urandom(4096))
    (base / "pw").write_text("test-only password\n")
    common = (
        binary,
        "--repo",
        str(base / "repo"),
        "--password-file",
        str(base / "pw"),
        "--cache-dir",
        str(base / "cache"),
    )
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base)}
    subprocess.run((*common, "init"), check=True, capture_output=True, env=environment)
    backup = subprocess.run(
        (
            *common,
            "backup",
            "--json",
            "--tag",
            "t1",
            "--tag",
            "t2",
            "--",
            str(base / "src"),
            unreadable,
        ),
        check=False,
        capture_output=True,
        text=True,
        env=environment,
    )
    listing = subprocess.run(
        (*common, "snapshots", "--json"),
        check=True,
        capture_output=True,
        text=True,
        env=environment,
    )
    return Capture(
        backup.stdout.splitlines(), backup.stderr.splitlines(), backup.returncode, listing.stdout
    )


def parsed_lines(capture: Capture) -> list:
    # restic 0.14 prints --json error messages on stderr, later releases on stdout.
    return [
        messages.parse_backup_line(line) for line in capture.backup_stdout + capture.backup_stderr
    ]


def test_real_backup_is_incomplete_because_of_the_unreadable_file(real_restic):
    assert real_restic.backup_returncode == 3


def test_real_status_lines_parse(real_restic):
    statuses = [m for m in parsed_lines(real_restic) if isinstance(m, messages.Status)]
    assert statuses
    assert all(0.0 <= status.percent_done <= 1.0 for status in statuses)


def test_real_summary_parses(real_restic):
    summaries = [m for m in parsed_lines(real_restic) if isinstance(m, messages.Summary)]
    assert len(summaries) == 1
    summary = summaries[0]
    assert summary.files_new == 2
    assert summary.total_files_processed == 2
    assert summary.total_bytes_processed == 6 + 4096
    assert summary.data_added > 4096
    assert summary.total_duration > 0
    assert summary.snapshot_id and len(summary.snapshot_id) in (8, 64)


def test_real_error_line_parses_with_its_reason(real_restic):
    errors = [m for m in parsed_lines(real_restic) if isinstance(m, messages.ItemError)]
    assert errors == [
        messages.ItemError(
            item="/proc/sys/vm/compact_memory", during="archival", message=errors[0].message
        )
    ]
    assert "Permission denied" in errors[0].message or "permission denied" in errors[0].message


def test_real_non_json_lines_are_ignored(real_restic):
    for line in real_restic.backup_stderr:
        if not line.startswith("{"):
            assert messages.parse_backup_line(line) is None


def test_real_snapshots_parse(real_restic):
    snapshots = messages.parse_snapshots(real_restic.snapshots_stdout)
    assert len(snapshots) == 1
    snapshot = snapshots[0]
    assert len(snapshot.id) == 64 and snapshot.short_id == snapshot.id[:8]
    assert snapshot.tags == ("t1", "t2")
    assert any(path.endswith("/src") for path in snapshot.paths)
    assert snapshot.hostname
    taken = messages.parse_time(snapshot.time)
    assert abs(datetime.datetime.now(UTC) - taken) < datetime.timedelta(minutes=10)


# restic 0.17 style lines, written from its documentation (doc/075_scripting.rst).
STATUS_017 = (
    '{"message_type":"status","seconds_elapsed":2,"seconds_remaining":5,'
    '"percent_done":0.25,"total_files":8,"files_done":2,"total_bytes":4000,'
    '"bytes_done":1000,"current_files":["/x"]}'
)
ERROR_017 = (
    '{"message_type":"error","error":{"message":"open /x: permission denied"},'
    '"during":"archival","item":"/x"}'
)


def test_status_with_all_fields():
    assert messages.parse_backup_line(STATUS_017) == messages.Status(
        percent_done=0.25,
        total_files=8,
        files_done=2,
        total_bytes=4000,
        bytes_done=1000,
        seconds_elapsed=2.0,
        seconds_remaining=5.0,
    )


def test_status_with_missing_fields_gets_zeros():
    assert messages.parse_backup_line('{"message_type":"status","percent_done":0}') == (
        messages.Status(0.0, 0, 0, 0, 0, 0.0, None)
    )


def test_error_with_message_object():
    assert messages.parse_backup_line(ERROR_017) == messages.ItemError(
        item="/x", during="archival", message="open /x: permission denied"
    )


def test_error_of_restic_014_is_described_from_its_fields():
    line = (
        '{"message_type":"error","error":{"Op":"open","Path":"/p","Err":13},'
        '"during":"archival","item":"/p"}'
    )
    assert messages.parse_backup_line(line) == messages.ItemError(
        item="/p", during="archival", message="open /p: Permission denied"
    )


def test_error_as_plain_string():
    line = '{"message_type":"error","error":"boom","item":"/p"}'
    assert messages.parse_backup_line(line) == messages.ItemError(
        item="/p", during="", message="boom"
    )


def test_summary_without_snapshot_id():
    summary = messages.parse_backup_line('{"message_type":"summary","files_new":3}')
    assert isinstance(summary, messages.Summary)
    assert summary.snapshot_id is None and summary.files_new == 3 and summary.data_added == 0


@pytest.mark.parametrize("line", [
    "", "   ", "not json", "{", "[1, 2]", "42", "null", '"status"',
    '{"message_type":"verbose_status","action":"new","item":"/x"}',
    '{"percent_done":0.5}',
    '{"message_type":"status","percent_done":"half"}',
    '{"message_type":"status","percent_done":null}',
    '{"message_type":"status","total_files":[1]}',
    '{"message_type":"summary","files_new":"many"}',
    '{"message_type":"summary","total_duration":{}}',
])  # fmt: skip
def test_malformed_or_other_lines_give_none(line):
    assert messages.parse_backup_line(line) is None


def test_parse_snapshots_sorts_oldest_first_across_offsets():
    text = json.dumps(
        [
            {
                "id": "b" * 64,
                "time": "2024-05-01T12:00:00.5+02:00",
                "paths": ["/b"],
            },  # 10:00:00.5 UTC
            {
                "id": "a" * 64,
                "short_id": "aaaaaaaa",
                "time": "2024-05-01T10:00:00.000000001Z",
                "hostname": "h",
                "paths": ["/a"],
                "tags": ["x"],
            },
            {"id": "c" * 64, "time": "2024-04-30T23:00:00-02:00", "tags": None},  # 01:00 UTC May 1
        ]
    )
    snapshots = messages.parse_snapshots(text)
    assert [s.id[0] for s in snapshots] == ["c", "a", "b"]
    assert snapshots[1] == messages.Snapshot(
        id="a" * 64,
        short_id="aaaaaaaa",
        time="2024-05-01T10:00:00.000000001Z",
        hostname="h",
        paths=("/a",),
        tags=("x",),
    )
    assert snapshots[0].short_id == "c" * 8 and snapshots[0].tags == () and snapshots[0].paths == ()


@pytest.mark.parametrize("text", ["", "[]", "null", "  "])
def test_parse_snapshots_of_nothing(text):
    assert messages.parse_snapshots(text) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-01T10:00:00.614040655Z", datetime.datetime(2024, 5, 1, 10, 0, 0, 614040, tzinfo=UTC)),
    ("2024-05-01T10:00:00Z", datetime.datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
    ("2024-05-01T10:00:00.1+02:00", datetime.datetime(2024, 5, 1, 8, 0, 0, 100000, tzinfo=UTC)),
    ("2024-05-01T10:00:00.123456789-05:30",
     datetime.datetime(2024, 5, 1, 15, 30, 0, 123456, tzinfo=UTC)),
    ("2024-05-01T10:00:00", datetime.datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)),
])  # fmt: skip
def test_parse_time(text, expected):
    parsed = messages.parse_time(text)
    assert parsed.tzinfo is not None
    assert parsed == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2024-05-01",
        "2024-05-01 10:00:00Z",
        "2024-05-01T10:00Z",
        "2024-05-01T10:00:00+0200",
    ],
)
def test_parse_time_rejects_non_timestamps(text):
    with pytest.raises(ValueError):
        messages.parse_time(text)
