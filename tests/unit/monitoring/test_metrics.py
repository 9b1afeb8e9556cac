"""The Prometheus textfile: every metric with its HELP and TYPE, each value from its fact,
labels escaped, unknown values left out rather than invented."""

from __future__ import annotations

import datetime
import re

from backupctl.monitoring import metrics

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


def _location(name, **changes):
    values = dict(
        location=name,
        reachable=True,
        snapshots=3,
        size_bytes=123456,
        newest=NOW - 2 * HOUR,
        oldest=NOW - 50 * HOUR,
        last_success=NOW - 2 * HOUR,
        last_ok=True,
        foreign_files=0,
        rotation_pending=False,
        check_ok=True,
        check_at=NOW - 24 * HOUR,
    )
    values.update(changes)
    return metrics.LocationFacts(**values)


def _source(**changes):
    values = dict(
        source="web",
        tenant="acme",
        locations=(_location("disk"), _location("far", foreign_files=2, rotation_pending=True)),
        warnings=1,
        damaged_files=0,
        drill_ok=True,
        drill_at=NOW - 72 * HOUR,
        drill_mismatched=0,
    )
    values.update(changes)
    return metrics.SourceFacts(**values)


def _samples(text):
    found = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"(\w+)(\{[^}]*\})? (\S+)", line)
        assert match, line
        found[(match.group(1), match.group(2) or "")] = float(match.group(3))
    return found


def test_every_metric_is_declared_and_carries_its_fact():
    text = metrics.render((_source(),), now=NOW)
    for name, (kind, _) in metrics.METRICS.items():
        assert f"# HELP {name} " in text and f"# TYPE {name} {kind}" in text, name
    found = _samples(text)
    far = '{source="web",location="far"}'
    disk = '{source="web",location="disk"}'
    assert found[("backupctl_source_info", '{source="web",tenant="acme"}')] == 1
    assert found[("backupctl_source_warnings", '{source="web"}')] == 1
    assert found[("backupctl_damaged_files", '{source="web"}')] == 0
    assert found[("backupctl_location_up", disk)] == 1
    assert found[("backupctl_snapshots", disk)] == 3
    assert found[("backupctl_repository_size_bytes", disk)] == 123456
    assert found[("backupctl_newest_snapshot_age_seconds", disk)] == 7200
    assert found[("backupctl_oldest_snapshot_age_seconds", disk)] == 50 * 3600
    assert found[("backupctl_last_success_timestamp_seconds", disk)] == (NOW - 2 * HOUR).timestamp()
    assert found[("backupctl_last_result_ok", disk)] == 1
    assert found[("backupctl_foreign_files", far)] == 2
    assert found[("backupctl_rotation_pending", far)] == 1
    assert found[("backupctl_rotation_pending", disk)] == 0
    assert found[("backupctl_check_ok", disk)] == 1
    assert found[("backupctl_check_timestamp_seconds", disk)] == (NOW - 24 * HOUR).timestamp()
    assert found[("backupctl_drill_ok", '{source="web"}')] == 1
    assert (
        found[("backupctl_drill_timestamp_seconds", '{source="web"}')]
        == (NOW - 72 * HOUR).timestamp()
    )
    assert found[("backupctl_drill_mismatched_files", '{source="web"}')] == 0
    assert found[("backupctl_metrics_timestamp_seconds", "")] == NOW.timestamp()


def test_what_is_not_known_is_left_out():
    down = _location(
        "far",
        reachable=False,
        newest=None,
        oldest=None,
        last_success=None,
        last_ok=None,
        check_ok=None,
        check_at=None,
    )
    text = metrics.render((_source(locations=(down,), drill_ok=None, drill_at=None),), now=NOW)
    found = _samples(text)
    labels = '{source="web",location="far"}'
    assert found[("backupctl_location_up", labels)] == 0
    for name in (
        "backupctl_snapshots",
        "backupctl_newest_snapshot_age_seconds",
        "backupctl_last_result_ok",
        "backupctl_check_ok",
    ):
        assert (name, labels) not in found
    assert "backupctl_drill_ok" not in text


def test_label_values_are_escaped():
    text = metrics.render((_source(tenant='a"b\\c\nd'),), now=NOW)
    assert 'tenant="a\\"b\\\\c\\nd"' in text
    assert len([line for line in text.splitlines() if "backupctl_source_info{" in line]) == 1
