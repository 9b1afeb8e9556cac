"""ddrescue argv builders, version gate, exit statuses and the status-screen parser."""

from __future__ import annotations

import signal

import pytest

from recovery import ddrescue, ddrescue_status

OPTIONS = ddrescue.RescueOptions(sector_size=4096, retries=3, direct=True)


def test_copy_run_skips_scraping_and_uses_the_device_sector_size():
    assert ddrescue.copy_argv("/dev/sdz", "/j/J.img", "/j/J.map", options=OPTIONS) == (
        "/usr/bin/ddrescue",
        "--sector-size=4096",
        "--idirect",
        "--mapfile-interval=1,30",
        "--no-scrape",
        "/dev/sdz",
        "/j/J.img",
        "/j/J.map",
    )


def test_scrape_run_retries_bad_sectors_the_requested_number_of_times():
    plain = ddrescue.RescueOptions(sector_size=512, retries=0, direct=False)
    assert ddrescue.scrape_argv("/dev/sdz", "i", "m", options=plain, binary="ddr") == (
        "ddr",
        "--sector-size=512",
        "--mapfile-interval=1,30",
        "--retry-passes=0",
        "/dev/sdz",
        "i",
        "m",
    )
    assert "--retry-passes=3" in ddrescue.phase_argv(
        "scrape", "/dev/sdz", "i", "m", options=OPTIONS
    )


def test_no_run_ever_forces_writing_to_a_device():
    for phase in ddrescue.PHASES:
        argv = ddrescue.phase_argv(phase, "/dev/sdz", "i", "m", options=OPTIONS)
        assert not {"-f", "--force", "--same-file", "-F", "--fill-mode"} & set(argv)
        assert argv[-3:] == ("/dev/sdz", "i", "m")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("GNU ddrescue 1.27\nCopyright (C) 2023", (1, 27)), ("GNU ddrescue 1.20-pre1", (1, 20))],
)
def test_parse_version(text, expected):
    assert ddrescue.parse_version(text) == expected


def test_unreadable_version_is_an_error():
    with pytest.raises(ddrescue.DdrescueError, match="cannot read the ddrescue version"):
        ddrescue.parse_version("dd (coreutils) 9.1")


def test_version_gate_table():
    assert ddrescue.supports((1, 27), ddrescue.Feature.MAPFILE)
    assert not ddrescue.supports((1, 19), ddrescue.Feature.MAPFILE)


def test_installed_ddrescue_passes_the_gate():
    assert ddrescue.version() >= (1, 20)


def test_missing_binary_says_what_to_install(tmp_path):
    with pytest.raises(ddrescue.DdrescueError, match="install gddrescue"):
        ddrescue.version(str(tmp_path / "no-ddrescue"))


@pytest.mark.parametrize(
    ("returncode", "received", "error", "words"),
    [
        (1, [], ddrescue.DdrescueError, "environmental problem"),
        (2, [], ddrescue.DdrescueError, "corrupt or invalid"),
        (7, [], ddrescue.DdrescueError, "unknown exit status"),
        (-signal.SIGTERM, [], ddrescue.DdrescueInterrupted, "SIGTERM"),
        (-signal.SIGINT, [signal.SIGINT], ddrescue.DdrescueInterrupted, "resume"),
    ],
)
def test_exit_statuses_map_to_errors(returncode, received, error, words):
    with pytest.raises(error, match=words):
        ddrescue._check(returncode, received, "ddrescue: Can't open input file\n")


def test_run_reports_ddrescue_failure_with_its_message(tmp_path):
    argv = ddrescue.copy_argv(
        str(tmp_path / "missing"),
        str(tmp_path / "i"),
        str(tmp_path / "m"),
        options=ddrescue.RescueOptions(),
    )
    with pytest.raises(ddrescue.DdrescueError, match="exit status 1"):
        ddrescue.run(argv)


def test_run_streams_the_status_screen(tmp_path):
    source = tmp_path / "source"
    source.write_bytes(bytes(range(256)) * 4096)
    parser = ddrescue_status.StatusParser()
    argv = ddrescue.copy_argv(
        str(source), str(tmp_path / "i"), str(tmp_path / "m"), options=ddrescue.RescueOptions()
    )
    ddrescue.run(argv, on_output=parser.feed)
    assert (tmp_path / "i").read_bytes() == source.read_bytes()
    assert parser.status().read_errors == 0
    assert parser.status().pass_message.startswith("Copying non-tried blocks")


# Captured from GNU ddrescue 1.27 writing to a pipe: carriage returns and cursor-up escapes.
SCREEN = (
    "GNU ddrescue 1.27\nPress Ctrl-C to interrupt\n\n\n\n\n\n\n"
    "\r\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A"
    "     ipos:    2874 MB, non-trimmed:        0 B,  current rate:  21479 kB/s\n"
    "     opos:    2874 MB, non-scraped:        0 B,  average rate:  21023 kB/s\n"
    "non-tried:   13603 MB,  bad-sector:     4096 B,    error rate:       0 B/s\n"
    "  rescued:    2401 MB,   bad areas:        1,        run time:         35s\n"
    "pct rescued:   15.00%, read errors:        9,  remaining time:     1h 10m\n"
    "                              time since last successful read:         12s\n"
    "\rRetrying bad sectors... Retry 1 (forwards)\r\x1b[A"
)


def test_status_screen_fields():
    parser = ddrescue_status.StatusParser()
    for start in range(0, len(SCREEN), 37):  # arbitrary chunk borders, as a pipe delivers them
        parser.feed(SCREEN[start : start + 37])
    status = parser.status()
    assert status.current_rate == 21_479_000 and status.average_rate == 21_023_000
    assert status.since_last_read == 12 and status.read_errors == 9
    assert status.pass_message == "Retrying bad sectors... Retry 1 (forwards)"
    assert parser.fields["remaining time"] == "1h 10m"
    assert ddrescue_status.parse_duration(parser.fields["remaining time"]) == 4200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0 B", 0),
        ("8388 kB", 8_388_000),
        ("3 MiB", 3 * 2**20),
        ("12 GB/s", 12 * 10**9),
        ("n/a", None),
    ],
)
def test_parse_size(text, expected):
    assert ddrescue_status.parse_size(text) == expected


def test_screen_before_any_read_has_no_rates():
    parser = ddrescue_status.StatusParser()
    parser.feed(
        "GNU ddrescue 1.27\n"
        "                              time since last successful read:         n/a\n"
    )
    assert parser.status().since_last_read is None and parser.status().current_rate is None
