"""Table tests of the pure S3 audit decisions (no S3 involved)."""

from __future__ import annotations

import json

import pytest

from targets import s3_audit

ALL_ON = tuple((flag, True) for flag in s3_audit.PUBLIC_ACCESS_BLOCK_FLAGS)
GOOD = s3_audit.BucketFacts(
    bucket="b",
    region="eu-central-1",
    public_access_block=ALL_ON,
    encryption=("AES256",),
    versioning="Enabled",
    noncurrent_expiration_days=30,
)


def policy(statement: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize(
    ("constraint", "region"),
    [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"), ("eu-central-1", "eu-central-1")],
)
def test_normalize_region(constraint, region):
    assert s3_audit.normalize_region(constraint) == region


@pytest.mark.parametrize(
    ("actual", "ok"), [("eu-central-1", True), ("us-east-1", False), (None, False)]
)
def test_check_region(actual, ok):
    assert s3_audit.check_region(actual, "eu-central-1").ok is ok


@pytest.mark.parametrize(
    ("flags", "ok", "reason"),
    [
        (ALL_ON, True, "all four"),
        (None, False, "no public access block"),
        (ALL_ON[:3] + (("RestrictPublicBuckets", False),), False, "off: RestrictPublicBuckets"),
        (
            (("BlockPublicAcls", True),),
            False,
            "off: IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets",
        ),
    ],
)
def test_check_public_access_block(flags, ok, reason):
    check = s3_audit.check_public_access_block(flags)
    assert check.ok is ok and reason in check.reason


@pytest.mark.parametrize(
    ("document", "public"),
    [
        (None, False),
        (
            policy(
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
            ),
            True,
        ),
        (
            policy(
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*"}
            ),
            True,
        ),
        (
            policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ["arn:aws:iam::1:root", "*"]},
                    "Action": "s3:*",
                }
            ),
            True,
        ),
        (policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}), False),
        (
            policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "s3:*",
                }
            ),
            False,
        ),
        (
            policy(
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
                }
            ),
            False,
        ),
        (
            policy(
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                }
            ),
            True,
        ),
        ("not json", True),
    ],
)
def test_policy_is_public(document, public):
    assert s3_audit.policy_is_public(document)[0] is public


def test_policy_status_from_s3_overrides_a_private_reading():
    assert not s3_audit.check_policy(None, True).ok
    assert s3_audit.check_policy(None, False).ok


@pytest.mark.parametrize(
    ("uris", "ok"),
    [
        ((), True),
        (("",), True),
        (("http://acs.amazonaws.com/groups/s3/LogDelivery",), True),
        (("http://acs.amazonaws.com/groups/global/AllUsers",), False),
        (("", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"), False),
    ],
)
def test_check_acl(uris, ok):
    assert s3_audit.check_acl(uris).ok is ok


@pytest.mark.parametrize(
    ("algorithms", "ok"),
    [
        ((), False),
        (("AES256",), True),
        (("aws:kms",), True),
        (("aws:kms:dsse",), True),
        (("other",), False),
    ],
)
def test_check_encryption(algorithms, ok):
    assert s3_audit.check_encryption(algorithms).ok is ok


@pytest.mark.parametrize(("status", "ok"), [("Enabled", True), ("Suspended", False), (None, False)])
def test_check_versioning(status, ok):
    assert s3_audit.check_versioning(status).ok is ok


@pytest.mark.parametrize(
    ("versioning", "days", "ok"),
    [
        (None, None, True),
        ("Enabled", None, False),
        ("Enabled", 30, True),
        ("Enabled", 31, False),
        ("Suspended", None, True),
    ],
)
def test_check_noncurrent_expiry(versioning, days, ok):
    assert s3_audit.check_noncurrent_expiry(versioning, days, max_days=30).ok is ok


def test_object_lock_is_reported_but_never_fails():
    assert s3_audit.check_object_lock(None) == s3_audit.Check(
        "object_lock", True, "object lock is not enabled"
    )
    assert s3_audit.check_object_lock("object lock enabled").ok


def test_decide_passes_a_well_configured_bucket():
    report = s3_audit.decide(GOOD, location="offsite", declared_region="eu-central-1")
    assert report.ok and report.failures == ()
    assert [check.setting for check in report.checks] == [
        "region",
        "public_access_block",
        "bucket_policy",
        "acl",
        "encryption",
        "versioning",
        "noncurrent_expiry",
        "object_lock",
    ]


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"region": "us-east-1"}, {"region"}),
        ({"acl_grantee_uris": ("http://acs.amazonaws.com/groups/global/AllUsers",)}, {"acl"}),
        (
            {"policy": policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"})},
            {"bucket_policy"},
        ),
        ({"public_access_block": None}, {"public_access_block"}),
        ({"encryption": ()}, {"encryption"}),
        ({"versioning": "Suspended"}, {"versioning"}),
        ({"noncurrent_expiration_days": None}, {"noncurrent_expiry"}),
        ({"unreadable": (("acl", "AccessDenied"),)}, {"acl"}),
    ],
)
def test_decide_fails_exactly_the_bad_setting(change, failed):
    import dataclasses

    report = s3_audit.decide(
        dataclasses.replace(GOOD, **change), location="offsite", declared_region="eu-central-1"
    )
    assert not report.ok
    assert {check.setting for check in report.failures} == failed


@pytest.mark.parametrize(
    ("versioning", "days", "linger"),
    [(None, None, 0), ("Enabled", 30, 31), ("Suspended", 7, 8), ("Enabled", None, None)],
)
def test_lingering_days(versioning, days, linger):
    assert s3_audit.lingering_days(versioning, days) == linger


@pytest.mark.parametrize(
    ("versioning", "days", "max_age", "ok", "reason"),
    [
        (None, None, 90, True, "gone at once"),
        ("Enabled", 30, 365, True, "rotation forgets that much earlier"),
        ("Enabled", 89, 90, False, "up to 90 days"),
        ("Enabled", None, 365, False, "for ever"),
    ],
)
def test_retention_promise(versioning, days, max_age, ok, reason):
    check = s3_audit.check_retention_promise(versioning, days, max_age_days=max_age)
    assert check.ok is ok and reason in check.reason


def test_decide_checks_the_promise_only_when_given_a_maximum_age():
    facts = s3_audit.BucketFacts(bucket="b", versioning="Enabled", noncurrent_expiration_days=30)
    without = s3_audit.decide(facts, location="l", declared_region="eu-central-1")
    assert "retention_promise" not in {check.setting for check in without.checks}
    short = s3_audit.decide(facts, location="l", declared_region="eu-central-1", max_age_days=20)
    assert "retention_promise" in {check.setting for check in short.failures}
