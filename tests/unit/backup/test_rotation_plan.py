"""The rotation planner: pure, by table and by property (hypothesis)."""

from __future__ import annotations

import dataclasses
import datetime
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import retention
from policies.rotation import Hold, SnapshotFacts, plan

NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
POLICY = retention.BUILTIN_POLICIES["backup-12m"]


def snap(
    name: str, days_ago: float, *, recorded_days_ago: float | None = None, **extra
) -> SnapshotFacts:
    recorded = None if recorded_days_ago is None else NOW - recorded_days_ago * DAY
    return SnapshotFacts(
        id=name, time=NOW - days_ago * DAY, recorded=recorded, group="shop", **extra
    )


def verdicts(result) -> dict:
    return {v.snapshot_id: v for v in result.verdicts}


def test_older_than_max_age_is_forgotten_with_its_age():
    result = verdicts(plan([snap("new", 1), snap("old", 400)], POLICY, now=NOW))
    assert result["new"].keep
    assert not result["old"].keep
    assert "older than the maximum age (400.0 days > 365 days)" in result["old"].reasons


def test_forged_new_time_cannot_make_old_data_young():
    # restic says 2 days old, but backupctl first saw it 400 days ago
    result = verdicts(
        plan([snap("new", 1), snap("forged", 2, recorded_days_ago=400)], POLICY, now=NOW)
    )
    assert not result["forged"].keep


def test_forged_old_time_never_keeps_data_longer():
    # backupctl took it yesterday, but its restic time says 500 days ago: it goes now
    result = verdicts(
        plan([snap("new", 1), snap("backdated", 500, recorded_days_ago=1)], POLICY, now=NOW)
    )
    assert not result["backdated"].keep


def test_future_snapshot_is_reported_and_pushes_nothing_out():
    policy = retention.RetentionPolicy(name="p", max_age_days=30, keep_last=1)
    result = plan(
        [snap("today", 0.1), snap("future", -100, recorded_days_ago=0.2)], policy, now=NOW
    )
    by_id = verdicts(result)
    assert result.future == ("future",)
    assert by_id["today"].keep and "last 1" in by_id["today"].reasons
    assert by_id["future"].keep and by_id["future"].future
    assert "dated in the future" in by_id["future"].reasons[0]


def test_future_snapshot_recorded_long_ago_is_forgotten():
    result = verdicts(plan([snap("x", 1), snap("f", -10, recorded_days_ago=366)], POLICY, now=NOW))
    assert not result["f"].keep


def test_hold_wins_over_max_age():
    held = Hold(reason="court order 12", tenant="customer-7")
    old = snap("old", 900, tags=("tenant:customer-7",))
    result = verdicts(plan([old, snap("new", 1)], POLICY, holds=[held], now=NOW))
    assert result["old"].keep and result["old"].held
    assert result["old"].reasons[0] == "held: court order 12"


def test_snapshot_no_rule_keeps_is_forgotten_with_reason():
    policy = retention.RetentionPolicy(name="p", max_age_days=365, keep_last=1)
    result = verdicts(plan([snap("a", 1), snap("b", 2)], policy, now=NOW))
    assert result["b"].reasons == ("kept by no keep rule",)


def test_margin_forgets_earlier_and_says_so():
    result = verdicts(plan([snap("a", 1), snap("b", 340)], POLICY, now=NOW, margin_days=31))
    assert not result["b"].keep
    assert "365 days less 31 days margin" in result["b"].reasons[-1]


def test_groups_have_their_own_history():
    foreign = dataclasses.replace(snap("hand", 5), group="foreign")
    policy = retention.RetentionPolicy(name="p", max_age_days=365, keep_last=1)
    result = verdicts(plan([snap("ours", 1), foreign], policy, now=NOW))
    assert result["hand"].keep and result["ours"].keep


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        plan([], POLICY, now=NOW.replace(tzinfo=None))


def _daily(count: int) -> list[SnapshotFacts]:
    return [snap(f"d{index:04d}", index + 0.5) for index in range(count)]


@pytest.mark.parametrize("name", sorted(retention.BUILTIN_POLICIES))
def test_each_shipped_policy_keeps_its_rules_and_nothing_past_max_age(name):
    # one snapshot a day for 400 days
    policy = retention.BUILTIN_POLICIES[name]
    result = plan(_daily(400), policy, now=NOW)
    kept_ids = set(result.keep)
    ages = {v.snapshot_id: v.age_days for v in result.verdicts}
    assert max(ages[i] for i in kept_ids) <= policy.max_age_days
    # the newest N days are all kept (daily), and one per week for the weekly rule
    assert {f"d{index:04d}" for index in range(policy.keep_daily)} <= kept_ids
    weeks = {v.snapshot_id for v in result.verdicts if any("weekly" in r for r in v.reasons)}
    assert len(weeks) == policy.keep_weekly
    months = {v.snapshot_id for v in result.verdicts if any("monthly" in r for r in v.reasons)}
    assert len(months) == policy.keep_monthly
    assert retention.keep_rules_problem(policy) is None


def test_backup_12m_keeps_a_year_of_monthly_history():
    result = plan(_daily(400), POLICY, now=NOW)
    kept = [v for v in result.verdicts if v.keep]
    assert len(kept) <= 1 + 14 + 8 + 12
    assert max(v.age_days for v in kept) > 300  # the monthly rule reaches back most of a year


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"keep_monthly": 13}, "keep_monthly = 13 reaches 395 days back, past max_age_days = 365"),
        ({"keep_weekly": 53}, "keep_weekly = 53 reaches 371 days back"),
        ({"keep_daily": 366}, "keep_daily = 366"),
        ({"keep_yearly": 2}, "keep_yearly = 2"),
        ({"keep_hourly": -1}, "keep_hourly must not be negative"),
        ({"keep_monthly": 12}, None),
        ({"keep_daily": 365, "keep_hourly": 8760}, None),
    ],
)
def test_keep_rules_reaching_past_max_age_are_named(changes, problem):
    policy = retention.RetentionPolicy(name="p", max_age_days=365, **changes)
    found = retention.keep_rules_problem(policy)
    if problem is None:
        assert found is None
    else:
        assert problem in found


# ---- properties --------------------------------------------------------------------------------

offsets = st.floats(min_value=-30, max_value=800, allow_nan=False)
snapshot_lists = st.lists(
    st.tuples(offsets, st.one_of(st.none(), offsets), st.sampled_from(["a", "b"]), st.booleans()),
    max_size=40,
)
policies = st.builds(
    retention.RetentionPolicy,
    name=st.just("p"),
    max_age_days=st.integers(1, 400),
    keep_last=st.integers(0, 5),
    keep_hourly=st.integers(0, 30),
    keep_daily=st.integers(0, 30),
    keep_weekly=st.integers(0, 10),
    keep_monthly=st.integers(0, 12),
    keep_yearly=st.integers(0, 2),
)


def _facts(entries) -> list[SnapshotFacts]:
    return [
        SnapshotFacts(
            id=f"s{index:03d}",
            time=NOW - days * DAY,
            recorded=None if recorded is None else NOW - recorded * DAY,
            tags=("tenant:held",) if held else ("tenant:other",),
            group=group,
        )
        for index, (days, recorded, group, held) in enumerate(entries)
    ]


@settings(max_examples=300, deadline=None)
@given(snapshot_lists, policies)
def test_nothing_older_than_max_age_is_kept_unless_held(entries, policy):
    facts = _facts(entries)
    result = plan(facts, policy, now=NOW)
    for verdict in result.verdicts:
        if verdict.keep and not verdict.held:
            assert verdict.age_days <= policy.max_age_days


@settings(max_examples=300, deadline=None)
@given(snapshot_lists, policies)
def test_newest_snapshot_within_max_age_is_never_forgotten(entries, policy):
    facts = _facts(entries)
    result = verdicts(plan(facts, policy, now=NOW))
    for group in ("a", "b"):
        young = [
            f
            for f in facts
            if f.group == group
            and f.time <= NOW
            and (NOW - f.aged_from) / DAY <= policy.max_age_days
        ]
        if young:
            newest = max(young, key=lambda f: (f.aged_from, f.id))
            assert result[newest.id].keep


@settings(max_examples=300, deadline=None)
@given(snapshot_lists, policies)
def test_holds_always_win(entries, policy):
    facts = _facts(entries)
    hold = Hold(reason="legal hold", tenant="held")
    result = verdicts(plan(facts, policy, holds=[hold], now=NOW))
    for fact in facts:
        if "tenant:held" in fact.tags:
            assert result[fact.id].keep and result[fact.id].held


@settings(max_examples=300, deadline=None)
@given(snapshot_lists, policies, st.randoms(use_true_random=False))
def test_decision_does_not_depend_on_input_order(entries, policy, shuffler: random.Random):
    facts = _facts(entries)
    shuffled = list(facts)
    shuffler.shuffle(shuffled)
    assert plan(facts, policy, now=NOW) == plan(shuffled, policy, now=NOW)


@settings(max_examples=200, deadline=None)
@given(snapshot_lists, policies)
def test_future_snapshots_never_change_the_others(entries, policy):
    facts = _facts(entries)
    present = [f for f in facts if f.time <= NOW]
    with_future = plan(facts, policy, now=NOW)
    without = verdicts(plan(present, policy, now=NOW))
    for verdict in with_future.verdicts:
        if verdict.snapshot_id in without:
            assert verdict.keep == without[verdict.snapshot_id].keep
