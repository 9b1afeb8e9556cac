"""A job's calendar: its OnCalendar and cron text, the next run (checked against systemd's own
calendar arithmetic), and that it never runs less often than the schedule asks."""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupctl.schedule import timing
from backupctl.schedule.timing import Timing
from tests.fixtures.requirements import skip_or_fail

UTC = datetime.UTC


@pytest.mark.parametrize(
    ("value", "on_calendar", "cron"),
    [
        (Timing("minutes", step=15), "*-*-* *:00/15:00", "*/15 * * * *"),
        (Timing("hours", step=6, minute=35), "*-*-* 00/6:35:00", "35 */6 * * *"),
        (Timing("days", step=1, minute=9, hour=3), "*-*-01/1 03:09:00", "9 3 * * *"),
        (Timing("days", step=3, minute=9, hour=3), "*-*-01/3 03:09:00", "9 3 1-31/3 * *"),
        (Timing("weekly", minute=59, hour=4, weekday=1), "Tue *-*-* 04:59:00", "59 4 * * 2"),
        (Timing("weekly", minute=0, hour=1, weekday=6), "Sun *-*-* 01:00:00", "0 1 * * 0"),
        (Timing("monthly", minute=45, hour=2, day=28), "*-*-28 02:45:00", "45 2 28 * *"),
    ],
)
def test_each_calendar_as_systemd_and_cron_text(value, on_calendar, cron):
    assert value.on_calendar() == on_calendar
    assert value.cron() == cron


@pytest.mark.parametrize(
    ("hours", "kind", "step"),
    [
        (0.25, "minutes", 15),
        (1, "hours", 1),
        (5, "hours", 4),  # 5 does not divide a day: every 4h, more often, never less
        (6, "hours", 6),
        (24, "days", 1),
        (36, "days", 1),
        (72, "days", 3),
        (168, "weekly", 1),
        (300, "weekly", 1),
        (30 * 24, "monthly", 1),
        (8784, "monthly", 1),
    ],
)
def test_an_interval_becomes_the_nearest_calendar_that_is_not_rarer(hours, kind, step):
    chosen = timing.for_interval(hours, "backup-web")
    assert (chosen.kind, chosen.step) == (kind, step)


def test_the_minute_is_fixed_by_the_name_and_spreads_jobs():
    assert timing.for_interval(24, "rotate") == timing.for_interval(24, "rotate")
    minutes = {timing.for_interval(24, f"backup-{n}").minute for n in range(20)}
    assert len(minutes) > 5


@settings(max_examples=60, deadline=None)
@given(
    hours=st.floats(min_value=0.1, max_value=27 * 24),
    name=st.text(alphabet="abcdefgh-", min_size=1, max_size=12),
    start=st.datetimes(
        min_value=datetime.datetime(2025, 1, 1), max_value=datetime.datetime(2030, 12, 31)
    ),
)
def test_no_gap_between_two_runs_is_longer_than_the_interval(hours, name, start):
    chosen = timing.for_interval(hours, name)
    moment = chosen.next_after(start)
    for _ in range(12):
        following = chosen.next_after(moment)
        assert following > moment
        assert chosen.matches(following)
        assert following - moment <= datetime.timedelta(hours=hours)
        moment = following


def test_a_monthly_job_runs_every_month():
    chosen = timing.for_interval(8784, "drill")
    moment = datetime.datetime(2026, 1, 1)
    months = set()
    for _ in range(12):
        moment = chosen.next_after(moment)
        months.add(moment.month)
    assert months == set(range(1, 13))


def _systemd_next(expression: str, base: datetime.datetime, count: int) -> list[datetime.datetime]:
    output = subprocess.run(
        (
            "systemd-analyze",
            "calendar",
            f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC",
            f"--iterations={count}",
            expression,
        ),
        capture_output=True,
        text=True,
        timeout=30,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        check=True,
    ).stdout
    found = re.findall(
        r"(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", output
    )
    return [datetime.datetime.fromisoformat(text).replace(tzinfo=UTC) for text in found]


@pytest.mark.parametrize("hours", [0.5, 1, 6, 24, 72, 168, 720])
@pytest.mark.parametrize("name", ["backup-web", "rotate", "drill"])
def test_the_next_runs_are_those_systemd_computes(hours, name):
    if shutil.which("systemd-analyze") is None:
        skip_or_fail("systemd-analyze not installed (Debian package systemd)")
    chosen = timing.for_interval(hours, name)
    base = datetime.datetime(2026, 1, 30, 22, 17, 5, tzinfo=UTC)
    expected = _systemd_next(chosen.on_calendar(), base, 4)
    ours, moment = [], base
    for _ in range(4):
        moment = chosen.next_after(moment)
        ours.append(moment)
    assert ours == expected
