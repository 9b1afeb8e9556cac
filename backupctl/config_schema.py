"""The configuration's keys as data: one table per section, and one checker that walks them.

Each ``Key`` names its type, whether it is required, its default and what it means; the same
tables drive validation and the reference in docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

# Names of sources, locations and policies, and tenants: they become restic tags, repository
# paths and log fields, so no separator (",", "/", whitespace) may hide inside one.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# Extra restic tags may also hold ":" (e.g. "team:finance"); restic splits --tag on ",".
TAG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
# Tags backupctl sets itself on every snapshot; an extra tag must not pose as one of them.
RESERVED_TAG_PREFIXES = ("source:", "tenant:", "change:")
RESERVED_TAGS = ("backupctl",)
# The longest schedule: a year. A longer one is a typo, and would overflow date arithmetic.
MAX_SCHEDULE_HOURS = 366 * 24


@dataclasses.dataclass(frozen=True)
class Key:
    name: str
    kind: str  # "str", "int", "bool", "list[str]"
    required: bool = False
    default: Any = None
    help: str = ""
    check: Callable[[Any], str | None] | None = None


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _days_kept(value: int) -> str | None:
    return None if 0 <= value <= 3650 else "must be 0 to 3650 days"


def _port(value: int) -> str | None:
    return None if 0 < value < 65536 else "must be a port number 1-65535"


def _absolute(value: str) -> str | None:
    return None if value.startswith("/") else "must be an absolute path"


def _country(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z]{2}", value):
        return None
    return "must be a two-letter ISO 3166 country code"


def _bucket(value: str) -> str | None:
    valid = re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value) and ".." not in value
    return (
        None
        if valid
        else (
            "must be an S3 bucket name: 3-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit"
        )
    )


def _identifier(value: str) -> str | None:
    return None if NAME_PATTERN.match(value) else f"must be {NAME_RULE}"


def _tags(values: list[str]) -> str | None:
    for tag in values:
        if not TAG_PATTERN.match(tag):
            return (
                f"tag {tag!r} must be 1-64 letters, digits, '.', '_', '-' or ':', "
                "starting with a letter or digit"
            )
        if tag in RESERVED_TAGS or tag.startswith(RESERVED_TAG_PREFIXES):
            return f"tag {tag!r} is one backupctl sets itself"
    return None


def _schedule(value: str) -> str | None:
    return (
        None
        if parse_interval_hours(value) is not None
        else (
            'must be "hourly", "daily", "weekly" or a number of hours like "36h" '
            f"(at most {MAX_SCHEDULE_HOURS}h, a year)"
        )
    )


def parse_interval_hours(value: str) -> float | None:
    """Given a schedule like "daily" or "36h", return its interval in hours; None when malformed
    or outside (0, MAX_SCHEDULE_HOURS]."""
    named = {"hourly": 1.0, "daily": 24.0, "weekly": 168.0}
    if value in named:
        return named[value]
    match = re.fullmatch(r"(\d{1,9}(?:\.\d{1,9})?)h", value)
    hours = float(match.group(1)) if match else 0.0
    return hours if 0 < hours <= MAX_SCHEDULE_HOURS else None


GLOBAL_KEYS = (
    Key(
        "state_dir",
        "str",
        default="/var/lib/backupctl",
        check=_absolute,
        help="Directory for the embedded state database, job folders and caches.",
    ),
    Key(
        "keystore",
        "str",
        default="/etc/backupctl/keystore.bin",
        check=_absolute,
        help="The encrypted keystore holding repository passwords and location credentials.",
    ),
    Key(
        "master_key_file",
        "str",
        check=_absolute,
        help="Root-only file holding the keystore's master secret (mode 0600).",
    ),
    Key(
        "master_key_command",
        "str",
        help="Command whose stdout is the master secret (instead of master_key_file).",
    ),
    Key(
        "restic", "str", default="restic", help="The restic binary (name on PATH or absolute path)."
    ),
    Key(
        "restic_cache_dir",
        "str",
        check=_absolute,
        help="restic's cache directory; default: <state_dir>/restic-cache.",
    ),
    Key(
        "job_copies_days",
        "int",
        default=30,
        check=_days_kept,
        help="Days after a repair job closes until `job purge` deletes the workshop's copies"
        " (image, mapfile, recovered files).",
    ),
    Key(
        "audit_lock_location",
        "str",
        help="An S3 location whose bucket has object lock: every audit checkpoint is also kept "
        "there, write-once, under audit-checkpoints/<host>/ (docs/audit.md).",
    ),
    Key(
        "audit_lock_days",
        "int",
        default=400,
        check=_positive,
        help="How long each audit checkpoint in the object-lock bucket is retained (compliance).",
    ),
)

LOCATION_COMMON_KEYS = (
    Key("kind", "str", required=True, help='"local", "sftp" or "s3".'),
    Key(
        "country",
        "str",
        required=True,
        check=_country,
        help="ISO 3166 country where the data is stored (EEA check, clause 9).",
    ),
    Key("offsite", "bool", required=True, help="Whether the location is off-site."),
    Key("provider", "str", default="own", help="Who operates it (a sub-processor, clause 9)."),
    Key(
        "allow_outside_eea",
        "str",
        help="Reason why a location outside the EEA is allowed; "
        "without it such a location is refused.",
    ),
)

LOCATION_KIND_KEYS = {
    "local": (
        Key(
            "path",
            "str",
            required=True,
            check=_absolute,
            help="Directory holding one repository per source.",
        ),
    ),
    "sftp": (
        Key("host", "str", required=True, help="SSH server host name or address."),
        Key("port", "int", default=22, check=_port, help="SSH port."),
        Key("user", "str", required=True, help="SSH user."),
        Key(
            "path",
            "str",
            required=True,
            check=_absolute,
            help="Directory on the server holding one repository per source.",
        ),
        Key(
            "identity_file",
            "str",
            required=True,
            check=_absolute,
            help="Private key file for the SSH user (root-only).",
        ),
        Key(
            "known_hosts",
            "str",
            required=True,
            check=_absolute,
            help="known_hosts file with the server's host key; unknown keys are refused.",
        ),
    ),
    "s3": (
        Key(
            "endpoint",
            "str",
            required=True,
            help='S3 endpoint URL, e.g. "https://s3.eu-central-1.amazonaws.com".',
        ),
        Key("bucket", "str", required=True, check=_bucket, help="Bucket name."),
        Key("prefix", "str", default="", help="Key prefix inside the bucket."),
        Key("region", "str", required=True, help="The bucket's region."),
        Key("verify_tls", "bool", default=True, help="Verify the endpoint's TLS certificate."),
    ),
}

SOURCE_KEYS = (
    Key("paths", "list[str]", required=True, help="Absolute paths to back up."),
    Key("excludes", "list[str]", default=(), help="restic exclude patterns."),
    Key(
        "tenant",
        "str",
        required=True,
        check=_identifier,
        help="The customer/tenant the data belongs to (a name, as for sources).",
    ),
    Key(
        "locations",
        "list[str]",
        required=True,
        help="Location names; the first receives the backup, the others a verified copy.",
    ),
    Key("retention", "str", default="backup-12m", help="Name of the retention policy."),
    Key(
        "schedule",
        "str",
        default="daily",
        check=_schedule,
        help='How often it must be backed up: "hourly", "daily", "weekly" or "<N>h" (at most '
        f"{MAX_SCHEDULE_HOURS}h).",
    ),
    Key(
        "tags",
        "list[str]",
        default=(),
        check=_tags,
        help='Extra restic tags for every snapshot: names that may also hold ":", e.g. '
        '"team:finance" (not source:, tenant:, change: or backupctl).',
    ),
    Key(
        "allow_single_location",
        "str",
        help="Reason why fewer than two locations is allowed (clause 10.12).",
    ),
    Key("allow_no_offsite", "str", help="Reason why no off-site location is allowed."),
)

POLICY_KEYS = (
    Key(
        "max_age_days",
        "int",
        required=True,
        check=_positive,
        help="No snapshot is kept longer than this many days (counted from the older of "
        "restic's time and the time backupctl took or first saw it); the keep rules may not "
        "reach further back.",
    ),
    Key("keep_last", "int", default=1, help="Always keep the newest N snapshots (within max age)."),
    Key("keep_hourly", "int", default=0, help="Keep one snapshot per hour for N hours."),
    Key("keep_daily", "int", default=0, help="Keep one snapshot per day for N days."),
    Key("keep_weekly", "int", default=0, help="Keep one snapshot per week for N weeks."),
    Key("keep_monthly", "int", default=0, help="Keep one snapshot per month for N months."),
    Key("keep_yearly", "int", default=0, help="Keep one snapshot per year for N years."),
)

TYPE_CHECKS = {
    "str": lambda value: isinstance(value, str),
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "bool": lambda value: isinstance(value, bool),
    "list[str]": lambda value: isinstance(value, list) and all(isinstance(v, str) for v in value),
}
TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "bool": "true or false",
    "list[str]": "a list of strings",
}


def check_table(table: Any, keys: tuple[Key, ...], where: str, errors: list[str]) -> dict[str, Any]:
    """Given a TOML table and its keys, return the values with defaults; append each problem to
    errors."""
    if not isinstance(table, dict):
        errors.append(f"{where}: expected a table")
        return {}
    known = {key.name: key for key in keys}
    for name in table:
        if name not in known:
            errors.append(f"{where}.{name}: unknown key (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for key in keys:
        if key.name not in table:
            if key.required:
                errors.append(f"{where}.{key.name}: required key is missing ({key.help})")
            values[key.name] = key.default
            continue
        value = table[key.name]
        if not TYPE_CHECKS[key.kind](value):
            errors.append(f"{where}.{key.name}: expected {TYPE_NAMES[key.kind]}, got {value!r}")
            values[key.name] = key.default
            continue
        problem = key.check(value) if key.check else None
        if problem:
            errors.append(f"{where}.{key.name}: {problem}, got {value!r}")
        values[key.name] = value
    return values
