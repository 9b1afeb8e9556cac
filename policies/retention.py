"""Named retention policies (statement 8.1, 8.2, 10.4): a maximum age and a keep rule."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class RetentionPolicy:
    """Keep daily/weekly/monthly history, but never anything older than ``max_age_days``."""

    name: str
    max_age_days: int
    keep_last: int = 1
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0


# The default promised by clause 8.2: no single backup is kept longer than 12 months.
DEFAULT_POLICY_NAME = "backup-12m"
BUILTIN_POLICIES = {
    DEFAULT_POLICY_NAME: RetentionPolicy(
        name=DEFAULT_POLICY_NAME,
        max_age_days=365,
        keep_last=1,
        keep_daily=14,
        keep_weekly=8,
        keep_monthly=12,
    ),
}
