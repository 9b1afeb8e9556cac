"""Provision and audit a location's storage (S3 buckets: region, public access, encryption,
versioning)."""

from __future__ import annotations

from backupctl import config as config_module
from backupctl import locations
from backupctl.config import Config
from backupctl.errors import ConfigError
from backupctl.keys import access as keyaccess
from backupctl.keys.secret import Secret
from targets import s3_audit


def s3_location(config: Config, name: str) -> config_module.Location:
    """Given a location name, return the S3 location; raise ConfigError for an unknown name or
    another kind."""
    if name not in config.locations:
        raise ConfigError(
            f"unknown location {name!r} (configured: "
            f"{', '.join(sorted(config.locations)) or 'none'})"
        )
    location = config.locations[name]
    if location.kind != "s3":
        raise ConfigError(
            f"location {name} is {location.kind}; provision and audit are for s3 "
            "locations (a local or SFTP location needs no bucket settings)"
        )
    return location


def set_credentials(config: Config, name: str, key_id: str, secret: Secret) -> None:
    """Given an S3 location and its access key, store both halves in the keystore (created when
    missing); raise ConfigError for a location that is not S3."""
    s3_location(config, name)
    keystore = keyaccess.open_keystore(config, create=True)
    keystore.set(locations.access_key_entry(name), Secret(key_id))
    keystore.set(locations.secret_key_entry(name), secret)
    keystore.save()


def provision(config: Config, name: str) -> list[s3_audit.Finding]:
    """Create the bucket in its declared region with the safe settings; return what changed."""
    from targets import s3_bucket  # boto3 loads only when a bucket is touched

    location = s3_location(config, name)
    keystore = keyaccess.open_keystore(config)
    return s3_bucket.provision(locations.spec_for(location, None, keystore))


def audit(config: Config, name: str) -> s3_audit.AuditReport:
    """Report each safety setting of the bucket; the report fails on a public or out-of-region
    one, and when deleted backups live on as noncurrent versions past the shortest maximum age
    of the sources stored there."""
    from targets import s3_bucket

    location = s3_location(config, name)
    keystore = keyaccess.open_keystore(config)
    ages = [
        config.policies[source.retention].max_age_days
        for source in config.sources.values()
        if name in source.locations
    ]
    return s3_bucket.audit(
        locations.spec_for(location, None, keystore), max_age_days=min(ages, default=None)
    )
