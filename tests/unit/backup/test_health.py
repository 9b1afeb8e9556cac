"""What an operator must look at, judged from each location's state with a fixed clock."""

from __future__ import annotations

import datetime

import pytest

from backupctl.health import LocationState, warnings_for

NOW = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)
ALL = frozenset({"s1", "s2", "s3"})


def state(name, *, offsite=False, reachable=True, reason="", snapshots=ALL, newest=NOW - HOUR):
    return LocationState(
        name=name,
        offsite=offsite,
        reachable=reachable,
        reason=reason,
        snapshot_ids=frozenset(snapshots),
        newest=newest if snapshots else None,
    )


def judge(*states, schedule=24.0, grace=2.0):
    return warnings_for(list(states), schedule_hours=schedule, grace_hours=grace, now=NOW)


def test_two_healthy_locations_one_offsite_is_quiet():
    assert judge(state("nas"), state("far", offsite=True)) == []


@pytest.mark.parametrize(("states", "expected"), [
    pytest.param(
        (state("nas"), state("far", offsite=True), state("s3", offsite=True, reachable=False,
                                                          reason="connection refused")),
        ["location s3 unreachable: connection refused"], id="unreachable"),
    pytest.param(
        (state("nas"), state("far", offsite=True), state("bk", offsite=True, snapshots={"s1"})),
        ["location bk lacks 2 snapshot(s) the others have; the next backup copies them"],
        id="lacking"),
    pytest.param(
        (state("nas"), state("far", offsite=True, snapshots={"s1", "s2"})),
        ["location far lacks 1 snapshot(s) the others have; the next backup copies them",
         "only 1 healthy location(s) hold all backups; 2 are required",
         "no healthy off-site location holds all backups"],
        id="lacking-offsite"),
    pytest.param(
        (state("nas"),),
        ["only 1 healthy location(s) hold all backups; 2 are required",
         "no healthy off-site location holds all backups"],
        id="single"),
    pytest.param(
        (state("nas"), state("nas2")),
        ["no healthy off-site location holds all backups"], id="no-offsite"),
    pytest.param(
        (state("nas"), state("far", offsite=True, reachable=False, reason="timeout", snapshots=())),
        ["location far unreachable: timeout",
         "only 1 healthy location(s) hold all backups; 2 are required",
         "no healthy off-site location holds all backups"],
        id="offsite-unreachable"),
    pytest.param(
        (state("nas", snapshots=()), state("far", offsite=True, snapshots=())),
        ["only 0 healthy location(s) hold all backups; 2 are required",
         "no healthy off-site location holds all backups", "no backup yet"],
        id="no-backup-yet"),
    pytest.param(
        (state("nas", newest=NOW - 30 * HOUR), state("far", offsite=True, newest=NOW - 30 * HOUR)),
        ["newest backup is 30.0h old; schedule is every 24h"], id="overdue"),
])  # fmt: skip
def test_warnings(states, expected):
    assert judge(*states) == expected


def test_unreachable_location_does_not_make_the_others_lack_snapshots():
    hidden = state("s3", offsite=True, reachable=False, reason="down", snapshots={"s9"})
    warnings = judge(state("nas"), state("far", offsite=True), hidden)
    assert not any("lacks" in warning for warning in warnings)


@pytest.mark.parametrize(("age_hours", "overdue"), [(25.9, False), (26.0, False), (26.1, True)])
def test_overdue_only_past_schedule_plus_grace(age_hours, overdue):
    newest = NOW - datetime.timedelta(hours=age_hours)
    warnings = judge(state("nas", newest=newest), state("far", offsite=True, newest=newest))
    assert any("newest backup is" in warning for warning in warnings) is overdue


def test_overdue_uses_the_newest_backup_of_any_location():
    warnings = judge(
        state("nas", newest=NOW - 50 * HOUR), state("far", offsite=True), schedule=1.0, grace=0.5
    )
    assert warnings == []


def test_hourly_schedule_is_shown_without_decimals():
    newest = NOW - 3 * HOUR
    assert judge(
        state("nas", newest=newest),
        state("far", offsite=True, newest=newest),
        schedule=1.0,
        grace=0.25,
    ) == ["newest backup is 3.0h old; schedule is every 1h"]
