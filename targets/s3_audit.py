"""Pure decisions about an S3 bucket's safety settings: facts in, checks with reasons out.

No boto3 here; ``s3_bucket`` gathers the facts and applies the fixes. Each check answers one
question the privacy statement depends on (7.3: not reachable from outside; 9: stays in its
region; 8.2: nothing outlives the retention promise).
"""

from __future__ import annotations

import dataclasses
import json

PUBLIC_ACCESS_BLOCK_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)
ACCEPTED_ENCRYPTION = ("AES256", "aws:kms", "aws:kms:dsse")
PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
RESTRICTING_CONDITION_KEYS = frozenset(
    {
        "aws:principalorgid",
        "aws:principalaccount",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:principalarn",
    }
)
DEFAULT_NONCURRENT_DAYS = 30
# S3 applies lifecycle rules about once a day: an expired noncurrent version may live a day more.
LIFECYCLE_LAG_DAYS = 1


@dataclasses.dataclass(frozen=True)
class BucketFacts:
    """What S3 says about a bucket. ``None`` means "not configured"; settings that could not be
    read are named in ``unreadable`` with the S3 error code."""

    bucket: str
    region: str | None = None
    public_access_block: tuple[tuple[str, bool], ...] | None = None
    policy: str | None = None
    policy_status_public: bool | None = None
    acl_grantee_uris: tuple[str, ...] = ()
    encryption: tuple[str, ...] = ()
    versioning: str | None = None
    object_lock: str | None = None
    noncurrent_expiration_days: int | None = None
    unreadable: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Check:
    """One audited setting: whether it is acceptable, and why."""

    setting: str
    ok: bool
    reason: str


@dataclasses.dataclass(frozen=True)
class AuditReport:
    """Every check of one bucket; ``ok`` only when all of them pass."""

    location: str
    bucket: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)


@dataclasses.dataclass(frozen=True)
class Finding:
    """What provisioning did (or found already right) for one setting."""

    setting: str
    changed: bool
    detail: str


def normalize_region(location_constraint: str | None) -> str:
    """Given GetBucketLocation's LocationConstraint, return the region name (None/"" is us-east-1,
    "EU" is eu-west-1)."""
    if not location_constraint:
        return "us-east-1"
    return "eu-west-1" if location_constraint == "EU" else location_constraint


def check_region(actual: str | None, declared: str) -> Check:
    """Pass when the bucket lives in the declared region."""
    if actual == declared:
        return Check("region", True, f"bucket is in {actual}, as declared")
    return Check("region", False, f"bucket is in {actual}, but the location declares {declared}")


def check_public_access_block(flags: tuple[tuple[str, bool], ...] | None) -> Check:
    """Pass when all four public access block settings are on."""
    if flags is None:
        return Check("public_access_block", False, "no public access block is configured")
    settings = dict(flags)
    off = [name for name in PUBLIC_ACCESS_BLOCK_FLAGS if not settings.get(name, False)]
    if off:
        return Check("public_access_block", False, "off: " + ", ".join(off))
    return Check("public_access_block", True, "all four settings are on")


def policy_is_public(policy: str | None) -> tuple[bool, str]:
    """Given a bucket policy document (JSON text), return (public, reason). A statement that
    allows any principal ("*") is public unless a Condition pins the caller to an account,
    organisation, VPC or source ARN."""
    if not policy:
        return False, "no bucket policy"
    try:
        statements = json.loads(policy).get("Statement", [])
    except (ValueError, AttributeError):
        return True, "bucket policy cannot be parsed; treated as public"
    for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
        allows_anyone = statement.get("Effect") == "Allow" and _any_principal(
            statement.get("Principal")
        )
        if allows_anyone and not _restricting_condition(statement.get("Condition")):
            return True, f"policy statement {statement.get('Sid', index)} allows any principal"
    return False, "no policy statement allows anonymous access"


def _any_principal(principal: object) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        values = principal.get("AWS", [])
        return "*" in (values if isinstance(values, list) else [values])
    return False


def _restricting_condition(condition: object) -> bool:
    if not isinstance(condition, dict):
        return False
    keys = {
        key.lower()
        for operator in condition.values()
        if isinstance(operator, dict)
        for key in operator
    }
    return bool(keys & RESTRICTING_CONDITION_KEYS)


def check_policy(policy: str | None, status_public: bool | None) -> Check:
    """Fail when our reading of the policy, or S3's own policy status, says it is public."""
    public, reason = policy_is_public(policy)
    if status_public:
        return Check("bucket_policy", False, "S3 reports the bucket policy as public")
    return Check("bucket_policy", not public, reason)


def check_acl(grantee_uris: tuple[str, ...]) -> Check:
    """Fail when the ACL grants anything to AllUsers or AuthenticatedUsers."""
    public = sorted({uri.rsplit("/", 1)[-1] for uri in grantee_uris if uri in PUBLIC_GROUPS})
    if public:
        return Check("acl", False, "ACL grants access to " + ", ".join(public))
    return Check("acl", True, "ACL grants nothing to the public")


def check_encryption(algorithms: tuple[str, ...]) -> Check:
    """Pass when default encryption is SSE-S3 (AES256) or SSE-KMS."""
    accepted = [name for name in algorithms if name in ACCEPTED_ENCRYPTION]
    if accepted:
        return Check("encryption", True, f"default encryption {accepted[0]}")
    return Check("encryption", False, "no default encryption (SSE-S3 or SSE-KMS) is configured")


def check_versioning(status: str | None) -> Check:
    """Pass when versioning is enabled (a deleted or overwritten object stays recoverable)."""
    if status == "Enabled":
        return Check("versioning", True, "versioning is enabled")
    return Check("versioning", False, f"versioning is {(status or 'never enabled').lower()}")


def check_noncurrent_expiry(versioning: str | None, days: int | None, *, max_days: int) -> Check:
    """With versioning on, pass only when a lifecycle rule expires noncurrent versions within
    ``max_days``: otherwise pruned backups live on as old versions past the retention promise."""
    if versioning != "Enabled":
        return Check("noncurrent_expiry", True, "versioning is off; deleted objects do not linger")
    if days is None:
        return Check("noncurrent_expiry", False, "no lifecycle rule expires noncurrent versions")
    if days > max_days:
        return Check(
            "noncurrent_expiry",
            False,
            f"noncurrent versions expire after {days} days (> {max_days})",
        )
    return Check("noncurrent_expiry", True, f"noncurrent versions expire after {days} days")


def lingering_days(versioning: str | None, noncurrent_days: int | None) -> int | None:
    """Given a bucket's versioning and noncurrent-version expiry, return how many days a deleted
    object survives as a noncurrent version at most: 0 without versioning, None for ever."""
    if versioning not in ("Enabled", "Suspended"):
        return 0
    if noncurrent_days is None:
        return None
    return noncurrent_days + LIFECYCLE_LAG_DAYS


def check_retention_promise(
    versioning: str | None, noncurrent_days: int | None, *, max_age_days: int
) -> Check:
    """Given the bucket's versioning and expiry and the shortest maximum age of the backups it
    holds, pass when rotation can still keep that maximum age here."""
    return check_lingering(lingering_days(versioning, noncurrent_days), max_age_days=max_age_days)


def check_lingering(linger: int | None, *, max_age_days: int) -> Check:
    """Given how many days a deleted object lives on (None: for ever) and a maximum age, pass
    when rotation, forgetting that many days early, can keep the maximum age at all."""
    if linger == 0:
        return Check("retention_promise", True, "deleted objects are gone at once (no versioning)")
    if linger is None:
        return Check(
            "retention_promise",
            False,
            "deleted backups live on as noncurrent versions for ever (no lifecycle rule expires "
            f"them): the {max_age_days}-day maximum age cannot be kept",
        )
    if linger >= max_age_days:
        return Check(
            "retention_promise",
            False,
            f"deleted backups live on up to {linger} days as noncurrent versions: not within the "
            f"{max_age_days}-day maximum age",
        )
    return Check(
        "retention_promise",
        True,
        f"deleted backups live on up to {linger} days as noncurrent versions; rotation forgets "
        f"that much earlier here, so none outlives {max_age_days} days",
    )


def check_object_lock(description: str | None) -> Check:
    """Report object lock; informational, it never fails the audit."""
    return Check("object_lock", True, description or "object lock is not enabled")


def decide(
    facts: BucketFacts,
    *,
    location: str,
    declared_region: str,
    max_noncurrent_days: int = DEFAULT_NONCURRENT_DAYS,
    max_age_days: int | None = None,
) -> AuditReport:
    """Given the facts about a bucket, return the audit report with one check per setting (and,
    given the shortest maximum age of the backups it holds, whether rotation can keep it); any
    setting that could not be read fails with the S3 error code as its reason."""
    checks = [
        check_region(facts.region, declared_region),
        check_public_access_block(facts.public_access_block),
        check_policy(facts.policy, facts.policy_status_public),
        check_acl(facts.acl_grantee_uris),
        check_encryption(facts.encryption),
        check_versioning(facts.versioning),
        check_noncurrent_expiry(
            facts.versioning, facts.noncurrent_expiration_days, max_days=max_noncurrent_days
        ),
        check_object_lock(facts.object_lock),
    ]
    if max_age_days is not None:
        checks.append(
            check_retention_promise(
                facts.versioning, facts.noncurrent_expiration_days, max_age_days=max_age_days
            )
        )
    unreadable = dict(facts.unreadable)
    if "noncurrent_expiry" in unreadable:
        unreadable["retention_promise"] = unreadable["noncurrent_expiry"]
    unreadable = dict(facts.unreadable)
    checks = [
        Check(c.setting, False, f"could not be read: {unreadable[c.setting]}")
        if c.setting in unreadable
        else c
        for c in checks
    ]
    return AuditReport(location=location, bucket=facts.bucket, checks=tuple(checks))
