"""`audit show` filters, `audit export` formats and `audit alerts` patterns, over a real log."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pytest

from backupctl import state
from backupctl.audit import alerts, export, log, query
from backupctl.errors import ConfigError

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
MONDAY_NOON = "2026-11-30T12:00:00.000000+00:00"
MONDAY_NIGHT = "2026-11-30T23:30:00.000000+00:00"
SATURDAY = "2026-11-28T10:00:00.000000+00:00"


@pytest.fixture
def db(tmp_path):
    path = state.db_path(tmp_path / "state")
    entries = [
        (
            "2026-11-01T08:00:00.000000+00:00",
            log.Event(
                "backup.run", "ops-olga", "ok", {"sources": "mail,web", "tenants": "acme,globex"}
            ),
        ),
        (MONDAY_NOON, log.Event("restore.run", "rita", "ok", {"tenant": "acme", "request": "R-1"})),
        (MONDAY_NIGHT, log.Event("restore.run", "rita", "ok", {"tenant": "globex"})),
        (SATURDAY, log.Event("restore.break_glass", "adam", "ok", {"tenant": "acme"})),
        (MONDAY_NOON, log.Event("restore.deny", "anna", "ok", {"request": "R-2"})),
        (
            MONDAY_NOON,
            log.Event("keys.list", "tom", "refused", details={"reason": "tom lacks admin"}),
        ),
        (
            MONDAY_NOON,
            log.Event(
                "location.foreign_files",
                "ops-olga",
                "warning",
                {"source": "mail", "location": "s3-de"},
                {"count": 2},
            ),
        ),
        (MONDAY_NOON, log.Event("verify.run", "ops-olga", "failed", {"sources": "mail"})),
    ]
    for at, event in entries:
        log.append(path, event, at=at)
    return path


def selected(db, **filters) -> list[int]:
    return [record.seq for record in query.select(db, query.Filters(**filters))]


def test_show_filters_by_actor_action_tenant_and_time(db):
    assert selected(db, actor="rita") == [2, 3]
    assert selected(db, action="restore") == [2, 3, 4, 5]
    assert selected(db, action="restore.run") == [2, 3]
    assert selected(db, action="restor") == []  # a prefix of a word is not an action
    assert selected(db, tenant="globex") == [1, 3]
    assert selected(db, since=query.parse_since("2026-11-29", now=NOW)) == [2, 3, 5, 6, 7, 8]
    assert selected(db, since=query.parse_since("90m", now=NOW.replace(hour=23))) == [3]


def test_since_must_be_a_time_or_an_age():
    with pytest.raises(ConfigError, match="--since 'yesterday'"):
        query.parse_since("yesterday", now=NOW)


def test_export_as_json_lines_keeps_every_field_and_the_hashes(db):
    lines = list(export.lines(query.select(db, query.Filters()), fmt="jsonl"))
    first = json.loads(lines[0])
    assert len(lines) == 8
    assert first["seq"] == 1 and first["prev"] == log.GENESIS and len(first["hash"]) == 64
    assert first["subjects"] == {"sources": "mail,web", "tenants": "acme,globex"}


def test_export_as_csv_has_a_header_and_one_row_per_record(db):
    rows = list(
        csv.reader(io.StringIO("".join(export.lines(query.select(db, query.Filters()), fmt="csv"))))
    )
    assert rows[0] == list(export.CSV_COLUMNS)
    assert [row[3] for row in rows[1:]][:2] == ["backup.run", "restore.run"]
    assert json.loads(rows[7][6]) == {"count": 2}


def test_alerts_name_every_pattern(db):
    found = alerts.find(query.select(db, query.Filters()))
    assert [(alert.kind, alert.seq) for alert in found] == [
        ("off-hours", 3),
        ("break-glass", 4),
        ("denied", 5),
        ("refused", 6),
        ("foreign-files", 7),
        ("failed", 8),
    ]
    assert "tom lacks admin" in found[3].text


def test_many_restores_by_one_person_raise_one_alert(tmp_path):
    path = state.db_path(tmp_path / "state")
    for minute in range(8):
        at = f"2026-11-30T10:{minute:02d}:00.000000+00:00"
        log.append(path, log.Event("restore.run", "rita", "ok"), at=at)
    found = alerts.find(query.select(path, query.Filters()), alerts.Rules(burst=5))
    assert [(alert.kind, alert.seq) for alert in found] == [("many-restores", 6)]


@pytest.mark.parametrize("action", ["check.run", "drill.run"])
def test_a_failed_check_or_drill_raises_an_alert(tmp_path, action):
    path = state.db_path(tmp_path / "state")
    log.append(path, log.Event(action, "root", "started", {"sources": "mail"}), at=MONDAY_NOON)
    log.append(path, log.Event(action, "root", "failed", {"sources": "mail"}), at=MONDAY_NOON)
    found = alerts.find(query.select(path, query.Filters()))
    assert [(alert.kind, alert.seq) for alert in found] == [("failed", 2)]
