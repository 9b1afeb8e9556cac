"""Provisioning and auditing S3 buckets with boto3. The decisions live in ``s3_audit`` (pure);
this module only reads settings from S3 and writes the missing ones."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import botocore.exceptions

from targets import errors, s3_audit, s3_client
from targets.specs import S3Spec

if TYPE_CHECKING:
    from botocore.client import BaseClient

logger = logging.getLogger(__name__)
LIFECYCLE_RULE_ID = "backupctl-expire-noncurrent-versions"
_NOT_CONFIGURED = frozenset(
    {
        "NoSuchPublicAccessBlockConfiguration",
        "NoSuchBucketPolicy",
        "NoSuchLifecycleConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        "ObjectLockConfigurationNotFoundError",
    }
)


def audit(
    spec: S3Spec,
    *,
    max_noncurrent_days: int = s3_audit.DEFAULT_NONCURRENT_DAYS,
    max_age_days: int | None = None,
) -> s3_audit.AuditReport:
    """Given an S3 location (and the shortest maximum age of the backups it holds), return the
    audit report of its bucket; raise LocationUnavailable when the bucket is missing or
    unreachable."""
    client = s3_client.make_client(spec)
    try:
        facts = gather_facts(spec, client)
    finally:
        client.close()
    report = s3_audit.decide(
        facts,
        location=spec.name,
        declared_region=spec.region,
        max_noncurrent_days=max_noncurrent_days,
        max_age_days=max_age_days,
    )
    for failure in report.failures:
        logger.warning(
            "location %s: bucket %s: %s: %s",
            spec.name,
            spec.bucket,
            failure.setting,
            failure.reason,
        )
    return report


def lingering_days(spec: S3Spec) -> int | None:
    """Given an S3 location, return how many days a deleted object lives on in its bucket as a
    noncurrent version (0: not at all, None: for ever); raise TargetError when S3 cannot say."""
    client = s3_client.make_client(spec)
    try:
        with s3_client.translate_errors(spec, "reach", None):
            versioning = client.get_bucket_versioning(Bucket=spec.bucket).get("Status")
            try:
                lifecycle = client.get_bucket_lifecycle_configuration(Bucket=spec.bucket)
            except botocore.exceptions.ClientError as error:
                if s3_client.error_code(error) != "NoSuchLifecycleConfiguration":
                    raise
                lifecycle = {}
    finally:
        client.close()
    return s3_audit.lingering_days(versioning, _noncurrent_days(lifecycle))


def gather_facts(spec: S3Spec, client: BaseClient) -> s3_audit.BucketFacts:
    """Given an S3 location and a client, read every audited setting of its bucket."""
    bucket = spec.bucket
    unreadable: list[tuple[str, str]] = []

    def read(setting: str, call, extract):
        try:
            return extract(call(Bucket=bucket))
        except botocore.exceptions.ClientError as error:
            code = s3_client.error_code(error)
            if code not in _NOT_CONFIGURED:
                unreadable.append((setting, code))
            return None

    # a setting S3 refuses is recorded by read(); a dropped connection anywhere is "unreachable"
    with s3_client.translate_errors(spec, "reach", None):
        client.head_bucket(Bucket=bucket)
        location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        pab = read(
            "public_access_block",
            client.get_public_access_block,
            lambda r: tuple(r["PublicAccessBlockConfiguration"].items()),
        )
        return s3_audit.BucketFacts(
            bucket=bucket,
            region=s3_audit.normalize_region(location),
            public_access_block=pab,
            policy=read("bucket_policy", client.get_bucket_policy, lambda r: r.get("Policy")),
            policy_status_public=_policy_status(client, bucket),
            acl_grantee_uris=read("acl", client.get_bucket_acl, _grantee_uris) or (),
            encryption=read("encryption", client.get_bucket_encryption, _algorithms) or (),
            versioning=read("versioning", client.get_bucket_versioning, lambda r: r.get("Status")),
            object_lock=read("object_lock", client.get_object_lock_configuration, _describe_lock),
            noncurrent_expiration_days=read(
                "noncurrent_expiry", client.get_bucket_lifecycle_configuration, _noncurrent_days
            ),
            unreadable=tuple(unreadable),
        )


def _policy_status(client, bucket: str) -> bool | None:
    """S3's own verdict on the policy; None where the service does not offer it."""
    try:
        return bool(client.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"])
    except (botocore.exceptions.ClientError, KeyError):
        return None


def _grantee_uris(response: dict) -> tuple[str, ...]:
    return tuple(grant["Grantee"].get("URI", "") for grant in response.get("Grants", ()))


def _algorithms(response: dict) -> tuple[str, ...]:
    rules = response["ServerSideEncryptionConfiguration"].get("Rules", ())
    return tuple(
        rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        for rule in rules
        if "ApplyServerSideEncryptionByDefault" in rule
    )


def _describe_lock(response: dict) -> str | None:
    configuration = response.get("ObjectLockConfiguration", {})
    if configuration.get("ObjectLockEnabled") != "Enabled":
        return None
    retention = configuration.get("Rule", {}).get("DefaultRetention")
    if not retention:
        return "object lock enabled, no default retention"
    period = (
        f"{retention['Days']} days" if "Days" in retention else f"{retention.get('Years')} years"
    )
    return f"object lock enabled, default retention {retention.get('Mode')} {period}"


def _noncurrent_days(response: dict) -> int | None:
    """The shortest noncurrent-version expiry of an enabled rule that covers the whole bucket."""
    days = [
        rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        for rule in response.get("Rules", ())
        if rule.get("Status") == "Enabled"
        and _covers_bucket(rule)
        and "NoncurrentDays" in rule.get("NoncurrentVersionExpiration", {})
    ]
    return min(days) if days else None


def _covers_bucket(rule: dict) -> bool:
    rule_filter = rule.get("Filter")
    if rule_filter is None:
        return not rule.get("Prefix")
    return not rule_filter or rule_filter == {"Prefix": ""}


def provision(
    spec: S3Spec, *, noncurrent_days: int = s3_audit.DEFAULT_NONCURRENT_DAYS
) -> list[s3_audit.Finding]:
    """Given an S3 location, create its bucket in the declared region if missing and turn on what
    the audit requires (public access block, default encryption, versioning, expiry of noncurrent
    versions); return one finding per setting. Idempotent: settings already right stay untouched.
    Raise TargetError when the bucket exists in another region or belongs to someone else."""
    client = s3_client.make_client(spec)
    try:
        findings = [_create_bucket(spec, client)]
        facts = gather_facts(spec, client)
        region = s3_audit.check_region(facts.region, spec.region)
        if not region.ok:
            raise errors.TargetError(f"location {spec.name}: bucket {spec.bucket}: {region.reason}")
        findings.extend(_apply_missing(spec, client, facts, noncurrent_days))
    finally:
        client.close()
    for finding in findings:
        logger.info(
            "location %s: bucket %s: %s: %s",
            spec.name,
            spec.bucket,
            finding.setting,
            finding.detail,
        )
    return findings


def _create_bucket(spec: S3Spec, client) -> s3_audit.Finding:
    arguments: dict[str, object] = {"Bucket": spec.bucket}
    if spec.region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": spec.region}
    with s3_client.translate_errors(spec, "reach", None):  # also an endpoint that is down
        try:
            client.head_bucket(Bucket=spec.bucket)
            return s3_audit.Finding("bucket", False, "bucket already exists")
        except botocore.exceptions.ClientError as error:
            if s3_client.error_code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise
    with s3_client.translate_errors(spec, "create", None):
        client.create_bucket(**arguments)
    return s3_audit.Finding("bucket", True, f"created bucket in {spec.region}")


def _apply_missing(spec: S3Spec, client, facts: s3_audit.BucketFacts, noncurrent_days: int):
    bucket = spec.bucket
    steps = (
        (
            s3_audit.check_public_access_block(facts.public_access_block),
            lambda: client.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    flag: True for flag in s3_audit.PUBLIC_ACCESS_BLOCK_FLAGS
                },
            ),
        ),
        (
            s3_audit.check_encryption(facts.encryption),
            lambda: client.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            ),
        ),
        (
            s3_audit.check_versioning(facts.versioning),
            lambda: client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            ),
        ),
        (
            s3_audit.check_noncurrent_expiry(
                "Enabled", facts.noncurrent_expiration_days, max_days=noncurrent_days
            ),
            lambda: _put_lifecycle(client, bucket, noncurrent_days),
        ),
    )
    findings = []
    for check, apply in steps:
        if check.ok:
            findings.append(s3_audit.Finding(check.setting, False, check.reason))
            continue
        with s3_client.translate_errors(spec, "configure", check.setting):
            apply()
        findings.append(s3_audit.Finding(check.setting, True, f"fixed ({check.reason})"))
    return findings


def _put_lifecycle(client, bucket: str, noncurrent_days: int) -> None:
    """Add our expiry rule to the bucket's lifecycle rules, keeping the others."""
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except botocore.exceptions.ClientError as error:
        if s3_client.error_code(error) != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    rules = [rule for rule in rules if rule.get("ID") != LIFECYCLE_RULE_ID]
    rules.append(
        {
            "ID": LIFECYCLE_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    )
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": rules}
    )
