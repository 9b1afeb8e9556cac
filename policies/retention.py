"""Named retention policies (statement 8.1, 8.2, 10.4): a hard maximum age and keep rules.

The keep rules (last, hourly, daily, weekly, monthly, yearly counts, as restic's ``forget``) say
which history is kept; the maximum age says what is never kept, whatever the rules say. A policy
whose rules reach further back than its maximum age promises history it cannot keep:
``keep_rules_problem`` names it and the config refuses it.
"""

from __future__ import annotations

import dataclasses

# How far back one unit of each keep rule reaches, in days (a month is a twelfth of a year).
RULE_DAYS = {
    "keep_hourly": 1 / 24,
    "keep_daily": 1.0,
    "keep_weekly": 7.0,
    "keep_monthly": 365 / 12,
    "keep_yearly": 365.0,
}


@dataclasses.dataclass(frozen=True)
class RetentionPolicy:
    """Keep hourly/daily/weekly/monthly history, but never anything older than ``max_age_days``."""

    name: str
    max_age_days: int
    keep_last: int = 1
    keep_hourly: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0

    def rules(self) -> dict[str, int]:
        """Return the keep rules by name (keep_last first), with their counts."""
        return {
            "keep_last": self.keep_last,
            **{name: getattr(self, name) for name in RULE_DAYS},
        }


def reach_days(policy: RetentionPolicy) -> float:
    """Given a policy, return how many days back its furthest-reaching keep rule looks."""
    return max((getattr(policy, name) * days for name, days in RULE_DAYS.items()), default=0.0)


def keep_rules_problem(policy: RetentionPolicy) -> str | None:
    """Given a policy, return why its keep rules contradict its maximum age, or None."""
    negative = [name for name, count in policy.rules().items() if count < 0]
    if negative:
        return f"{', '.join(negative)} must not be negative"
    for name, days in RULE_DAYS.items():
        count = getattr(policy, name)
        if count * days > policy.max_age_days:
            return (
                f"{name} = {count} reaches {count * days:.0f} days back, past max_age_days = "
                f"{policy.max_age_days}: no snapshot is kept that long"
            )
    return None


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
    # Clause 8.1: call detail records are kept for one year.
    "cdr-1y": RetentionPolicy(
        name="cdr-1y",
        max_age_days=365,
        keep_last=1,
        keep_daily=31,
        keep_weekly=8,
        keep_monthly=12,
    ),
    # Clause 10.4: camera recordings are overwritten within 90 days.
    "camera-90d": RetentionPolicy(
        name="camera-90d",
        max_age_days=90,
        keep_last=1,
        keep_daily=14,
        keep_weekly=12,
    ),
}
