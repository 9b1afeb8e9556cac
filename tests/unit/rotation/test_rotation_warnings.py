"""What a rotation tells the operator beyond keep and forget: future-dated snapshots, a history
of which nothing remains, and the S3 margin or a bucket that cannot keep the maximum age."""

from __future__ import annotations

import datetime

from backupctl.rotation import lingering, outcome
from policies import retention, rotation

NOW = datetime.datetime(2026, 11, 29, 12, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
POLICY = retention.BUILTIN_POLICIES["backup-12m"]


def _facts(name: str, days: float, group: str = "mail") -> rotation.SnapshotFacts:
    return rotation.SnapshotFacts(name * 64, NOW - days * DAY, None, (), group)


def test_future_and_vanished_histories_are_named():
    the_plan = rotation.plan(
        [_facts("a", 1), _facts("b", -3), _facts("c", 500, group="foreign:host")],
        POLICY,
        now=NOW,
    )
    warnings = outcome.plan_warnings(the_plan)
    assert any(w.startswith("snapshot bbbbbbbb is dated in the future") for w in warnings)
    assert any("no snapshot of foreign:host remains" in w for w in warnings)
    assert not any("of mail remains" in w for w in warnings)


def test_margin_and_broken_buckets_are_named():
    margin = lingering.Lingering({"s3-de": 31}, {"s3-us": "deleted backups live on for ever"})
    assert margin.margin_days == 31
    warnings = outcome.lingering_warnings(margin)
    assert warnings == (
        "location s3-us: deleted backups live on for ever",
        "rotation forgets 31 days before the maximum age: deleted data lives on as noncurrent "
        "versions (s3-de 31d)",
    )
    assert lingering.Lingering({}, {}).margin_days == 0
