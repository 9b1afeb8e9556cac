"""Provisioning and auditing buckets against the S3 test server (moto in server mode).

moto accepts the public policy and ACL below even while a public access block is on (AWS would
refuse them); that lets these tests build the unsafe buckets the audit must catch."""

from __future__ import annotations

import itertools
import json

import pytest

from targets import errors, s3_bucket

_counter = itertools.count()


@pytest.fixture
def provisioned(s3_server):
    spec = s3_server.make_spec("offsite", f"audit-{next(_counter)}", "src1")
    s3_bucket.provision(spec)
    return spec


def failed_settings(spec) -> set[str]:
    return {check.setting for check in s3_bucket.audit(spec).failures}


def test_provision_creates_a_bucket_that_passes_the_audit(s3_server):
    spec = s3_server.make_spec("offsite", f"fresh-{next(_counter)}", "src1")
    findings = s3_bucket.provision(spec)
    assert [(f.setting, f.changed) for f in findings] == [
        ("bucket", True),
        ("public_access_block", True),
        ("encryption", True),
        ("versioning", True),
        ("noncurrent_expiry", True),
    ]
    location = s3_server.client().get_bucket_location(Bucket=spec.bucket)["LocationConstraint"]
    assert location == "eu-central-1"
    report = s3_bucket.audit(spec)
    assert report.ok, report.failures


def test_provision_is_idempotent(provisioned):
    assert not any(finding.changed for finding in s3_bucket.provision(provisioned))


def test_provision_in_us_east_1_needs_no_location_constraint(s3_server):
    spec = s3_server.make_spec("us", f"useast-{next(_counter)}", "p", region="us-east-1")
    s3_bucket.provision(spec)
    assert s3_bucket.audit(spec).ok


def test_provision_keeps_existing_lifecycle_rules(s3_server):
    bucket = s3_server.create_bucket(f"rules-{next(_counter)}")
    rule = {
        "ID": "theirs",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 7},
    }
    s3_server.client().put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [rule]}
    )
    s3_bucket.provision(s3_server.make_spec("offsite", bucket, "p"))
    rules = s3_server.client().get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert {r["ID"] for r in rules} == {"theirs", s3_bucket.LIFECYCLE_RULE_ID}


def test_public_policy_fails_the_audit(s3_server, provisioned):
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "world",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{provisioned.bucket}/*",
            }
        ],
    }
    s3_server.client().put_bucket_policy(Bucket=provisioned.bucket, Policy=json.dumps(document))
    report = s3_bucket.audit(provisioned)
    assert not report.ok
    assert {check.setting for check in report.failures} == {"bucket_policy"}
    assert "world" in report.failures[0].reason or "public" in report.failures[0].reason


def test_public_acl_fails_the_audit(s3_server, provisioned):
    s3_server.client().put_bucket_acl(Bucket=provisioned.bucket, ACL="public-read")
    assert failed_settings(provisioned) == {"acl"}


def test_public_access_block_off_fails_the_audit(s3_server, provisioned):
    s3_server.client().put_public_access_block(
        Bucket=provisioned.bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    assert failed_settings(provisioned) == {"public_access_block"}
    s3_server.client().delete_public_access_block(Bucket=provisioned.bucket)
    assert failed_settings(provisioned) == {"public_access_block"}


def test_out_of_region_bucket_fails_the_audit_and_provision_refuses_it(s3_server):
    bucket = s3_server.create_bucket(f"faraway-{next(_counter)}", region="us-west-2")
    spec = s3_server.make_spec("offsite", bucket, "p")
    assert "region" in failed_settings(spec)
    with pytest.raises(errors.TargetError, match="us-west-2.*eu-central-1"):
        s3_bucket.provision(spec)


def test_unversioned_unencrypted_bucket_fails_the_audit(s3_server):
    bucket = s3_server.create_bucket(f"bare-{next(_counter)}")
    assert {"versioning", "public_access_block"} <= failed_settings(
        s3_server.make_spec("o", bucket, "p")
    )


def test_object_lock_is_reported(s3_server):
    bucket = f"locked-{next(_counter)}"
    client = s3_server.client()
    client.create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": s3_server.region},
        ObjectLockEnabledForBucket=True,
    )
    client.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}},
        },
    )
    spec = s3_server.make_spec("offsite", bucket, "p")
    s3_bucket.provision(spec)
    report = s3_bucket.audit(spec)
    lock = next(check for check in report.checks if check.setting == "object_lock")
    assert report.ok and "GOVERNANCE 30 days" in lock.reason


def test_audit_of_missing_bucket_says_location_unavailable(s3_server):
    with pytest.raises(errors.LocationUnavailable, match="offsite.*does not exist"):
        s3_bucket.audit(s3_server.make_spec("offsite", "no-such-bucket", "p"))
