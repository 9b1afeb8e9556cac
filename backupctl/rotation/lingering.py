"""How long data rotation deletes lives on at each of a source's locations: a versioned S3
bucket keeps a deleted object as a noncurrent version until its lifecycle rule expires it.

Rotation forgets that many days before the maximum age, so nothing outlives it anywhere. A
bucket whose deleted objects live on for ever, or longer than the maximum age, cannot keep the
promise: that is reported (rotation, status and `location audit`), never silently accepted.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from backupctl import errors, locations
from backupctl.config import Config, Source
from targets import s3_audit

if TYPE_CHECKING:
    from backupctl.keys.store import Keystore

logger = logging.getLogger(__name__)
# What `location provision` sets: assumed for a bucket that cannot be asked right now.
ASSUMED_DAYS = s3_audit.DEFAULT_NONCURRENT_DAYS + s3_audit.LIFECYCLE_LAG_DAYS


@dataclasses.dataclass(frozen=True)
class Lingering:
    days: dict[str, int]  # per S3 location: days a deleted object lives on (0: none)
    problems: dict[str, str]  # per location: why the maximum age cannot be kept there

    @property
    def margin_days(self) -> int:
        """How many days before the maximum age rotation must forget."""
        return max(self.days.values(), default=0)


def lingering(config: Config, source: Source, keystore: Keystore, max_age_days: int) -> Lingering:
    """Given a source, ask each of its S3 buckets how long a deleted object lives on; a bucket
    that cannot be asked is assumed to keep what provision sets."""
    days: dict[str, int] = {}
    problems: dict[str, str] = {}
    for location in config.source_locations(source):
        if location.kind != "s3":
            continue
        try:
            from targets import s3_bucket  # boto3 loads only when a bucket is asked

            found = s3_bucket.lingering_days(locations.spec_for(location, None, keystore))
        except Exception as error:
            if not errors.is_expected(error):
                raise
            logger.warning(
                "location %s: cannot read how long deleted objects live on (%s); assuming %d days",
                location.name,
                error,
                ASSUMED_DAYS,
            )
            found = ASSUMED_DAYS
        check = s3_audit.check_lingering(found, max_age_days=max_age_days)
        if not check.ok:
            problems[location.name] = check.reason
        elif found:
            days[location.name] = found
    return Lingering(days, problems)
