"""How long a deleted backup lives on in a bucket as a noncurrent version, read from the S3 test
server (moto), and the audit's verdict on whether rotation can still keep a maximum age there."""

from __future__ import annotations

import itertools

from targets import s3_bucket

_counter = itertools.count()


def _promise(spec, max_age_days: int):
    report = s3_bucket.audit(spec, max_age_days=max_age_days)
    (check,) = [c for c in report.checks if c.setting == "retention_promise"]
    return check


def test_a_provisioned_bucket_keeps_deleted_objects_31_days_and_keeps_12_months(s3_server):
    spec = s3_server.make_spec("offsite", f"promise-{next(_counter)}", "src1")
    s3_bucket.provision(spec)
    assert s3_bucket.lingering_days(spec) == 31  # 30 days' expiry + a day until S3 runs it
    check = _promise(spec, 365)
    assert check.ok and "up to 31 days" in check.reason
    short = _promise(spec, 30)  # a 30-day policy cannot be kept while versions live 31 days
    assert not short.ok and "not within the 30-day maximum age" in short.reason


def test_versioning_without_expiry_breaks_the_promise(s3_server):
    bucket = s3_server.create_bucket(f"versions-{next(_counter)}")
    s3_server.client().put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    spec = s3_server.make_spec("offsite", bucket, "src1")
    assert s3_bucket.lingering_days(spec) is None
    check = _promise(spec, 365)
    assert not check.ok and "for ever" in check.reason


def test_an_unversioned_bucket_deletes_at_once(s3_server):
    spec = s3_server.make_spec("offsite", s3_server.create_bucket(f"bare-{next(_counter)}"), "p")
    assert s3_bucket.lingering_days(spec) == 0
    assert _promise(spec, 90).ok
