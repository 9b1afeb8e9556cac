"""Pure policies: where data may live (EEA), how many places it must live, and what is kept how
long."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies import jurisdiction, placement, retention


@pytest.mark.parametrize(("country", "allowed"), [
    ("NL", True), ("de", True), ("NO", True), ("IS", True), ("LI", True), ("IE", True),
    ("CH", False), ("GB", False), ("US", False), ("SG", False), ("XX", False),
])  # fmt: skip
def test_location_allowed_inside_eea_only(country, allowed):
    decision = jurisdiction.location_allowed(country, allow_outside_eea=None)
    assert decision.allowed is allowed
    assert country.upper() in decision.reason
    if not allowed:
        assert "outside the EEA" in decision.reason and "allow_outside_eea" in decision.reason


@pytest.mark.parametrize("reason", [None, ""])
def test_empty_exception_does_not_allow_outside_eea(reason):
    assert not jurisdiction.location_allowed("US", allow_outside_eea=reason).allowed


def test_stated_exception_allows_outside_eea_and_is_quoted():
    decision = jurisdiction.location_allowed("us", allow_outside_eea="incident 17, until June")
    assert decision.allowed
    assert decision.reason == "US is outside the EEA, allowed: incident 17, until June"


@pytest.mark.parametrize(("region", "country", "mismatch"), [
    ("eu-central-1", "DE", None), ("eu-central-1", "de", None), ("eu-west-1", "IE", None),
    ("eu-central-1", "NL", "region eu-central-1 is in DE, but the location declares country NL"),
    ("us-east-1", "DE", "region us-east-1 is in US, but the location declares country DE"),
    ("eu-central-2", "DE", "region eu-central-2 is in CH, but the location declares country DE"),
    ("nl-ams", "NL", None), ("fr-par", "DE", None),  # unknown regions: accepted as declared
])  # fmt: skip
def test_region_country_mismatch(region, country, mismatch):
    assert jurisdiction.region_country_mismatch(region, country) == mismatch


def test_eea_has_its_30_members():
    assert len(jurisdiction.EEA_COUNTRIES) == 30


@pytest.mark.parametrize(("count", "offsite", "single", "no_offsite", "ok", "problems", "waived"), [
    (2, 1, None, None, True, 0, 0),
    (3, 2, None, None, True, 0, 0),
    (1, 1, None, None, False, 1, 0),
    (0, 0, None, None, False, 2, 0),
    (2, 0, None, None, False, 1, 0),
    (1, 1, "lab only", None, True, 0, 1),
    (2, 0, None, "air-gapped site", True, 0, 1),
    (1, 0, "lab only", None, False, 1, 1),
    (1, 0, "lab only", "air-gapped", True, 0, 2),
    (1, 0, "", "", False, 2, 0),
])  # fmt: skip
def test_check_placement_table(count, offsite, single, no_offsite, ok, problems, waived):
    verdict = placement.check_placement(
        count, offsite, allow_single_location=single, allow_no_offsite=no_offsite
    )
    assert (verdict.ok, len(verdict.problems), len(verdict.waived)) == (ok, problems, waived)


def test_check_placement_reasons_name_the_clause_and_the_waiver():
    verdict = placement.check_placement(1, 0, allow_no_offsite="air-gapped site")
    assert verdict.problems == ("has 1 location(s); at least 2 are required (clause 10.12)",)
    assert verdict.waived == (
        "has no off-site location; at least 1 is required (clause 10.12); allowed: air-gapped site",
    )


reasons = st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=20))


@given(count=st.integers(0, 6), offsite=st.integers(0, 6), single=reasons, no_offsite=reasons)
def test_placement_ok_iff_both_rules_hold_or_are_waived(count, offsite, single, no_offsite):
    offsite = min(offsite, count)
    verdict = placement.check_placement(
        count, offsite, allow_single_location=single, allow_no_offsite=no_offsite
    )
    expected = (count >= 2 or bool(single)) and (offsite >= 1 or bool(no_offsite))
    assert verdict.ok is expected
    assert verdict.ok is (not verdict.problems)
    broken = (count < 2) + (offsite < 1)
    assert len(verdict.problems) + len(verdict.waived) == broken


def test_default_policy_never_keeps_longer_than_12_months():
    policy = retention.BUILTIN_POLICIES[retention.DEFAULT_POLICY_NAME]
    assert retention.DEFAULT_POLICY_NAME == "backup-12m"
    assert policy.name == "backup-12m"
    assert policy.max_age_days == 365
    assert (
        policy.keep_last,
        policy.keep_daily,
        policy.keep_weekly,
        policy.keep_monthly,
        policy.keep_yearly,
    ) == (1, 14, 8, 12, 0)


def test_retention_policy_defaults_and_is_frozen():
    policy = retention.RetentionPolicy(name="calls-1y", max_age_days=365)
    assert (
        policy.keep_last,
        policy.keep_daily,
        policy.keep_weekly,
        policy.keep_monthly,
        policy.keep_yearly,
    ) == (1, 0, 0, 0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_age_days = 9999  # type: ignore[misc]
