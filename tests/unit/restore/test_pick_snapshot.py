"""Which snapshot a request means: an id prefix that names exactly one, or the newest at a time."""

from __future__ import annotations

import datetime

import pytest

from backupctl.actions.snapshot_access import pick_snapshot
from backupctl.errors import ConfigError, RefusedError
from backupctl.restic.messages import Snapshot


def _snapshot(identifier: str, time: str) -> Snapshot:
    return Snapshot(identifier, identifier[:8], time, "host", ("/data",), ())


SNAPSHOTS = (
    _snapshot("aaaa1111" + "0" * 56, "2026-11-01T02:00:00.123456789Z"),
    _snapshot("aaaa2222" + "0" * 56, "2026-11-02T02:00:00Z"),
    _snapshot("bbbb3333" + "0" * 56, "2026-11-03T02:00:00+01:00"),
)


def test_a_unique_prefix_names_its_snapshot():
    assert pick_snapshot(SNAPSHOTS, snapshot="aaaa2222", at=None) is SNAPSHOTS[1]


@pytest.mark.parametrize(("prefix", "problem"), [("aaaa", ConfigError), ("cccc4444", RefusedError)])
def test_short_ambiguous_or_unknown_prefixes_are_refused(prefix, problem):
    with pytest.raises(problem):
        pick_snapshot(SNAPSHOTS, snapshot=prefix, at=None)


def test_an_ambiguous_prefix_of_eight_is_refused():
    twins = (SNAPSHOTS[0], _snapshot("aaaa1111" + "1" * 56, "2026-11-05T00:00:00Z"))
    with pytest.raises(RefusedError, match="2 snapshots"):
        pick_snapshot(twins, snapshot="aaaa1111", at=None)


def test_at_picks_the_newest_taken_at_or_before_the_time():
    at = datetime.datetime(2026, 11, 3, 1, 30, tzinfo=datetime.UTC)  # after 02:00+01:00
    assert pick_snapshot(SNAPSHOTS, snapshot=None, at=at) is SNAPSHOTS[2]
    before_all = datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC)
    with pytest.raises(RefusedError, match="no snapshot taken at or before"):
        pick_snapshot(SNAPSHOTS, snapshot=None, at=before_all)


def test_exactly_one_of_snapshot_and_at():
    with pytest.raises(ConfigError):
        pick_snapshot(SNAPSHOTS, snapshot=None, at=None)
