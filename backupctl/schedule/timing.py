"""When a scheduled job runs: one value that becomes an OnCalendar expression, a cron line and
the next run after a moment, so the three never disagree. Pure; the clock is a parameter.

A source's ``schedule`` ("hourly", "daily", "weekly", "36h") is turned into the nearest calendar
that runs *at least* as often (36h runs daily, 300h weekly, a year monthly): a backup that comes
early is harmless, one that comes late breaks the promise. Each job gets a fixed minute (and for
daily or longer, a night hour) derived from its name, so jobs do not all start at once.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NIGHT_HOURS = (1, 2, 3, 4, 5)
SEARCH_LIMIT_HOURS = 32 * 24  # every calendar here recurs within a month


@dataclasses.dataclass(frozen=True)
class Timing:
    """``kind`` "minutes" (every ``step`` minutes), "hours" (every ``step`` hours at ``minute``),
    "days" (every ``step``-th day of the month at ``hour``:``minute``), "weekly" (on
    ``weekday``, 0 Monday) or "monthly" (on day ``day``). Local time."""

    kind: str
    step: int = 1
    minute: int = 0
    hour: int = 0
    weekday: int = 0
    day: int = 1

    def on_calendar(self) -> str:
        """Return the systemd OnCalendar expression."""
        at = f"{self.hour:02d}:{self.minute:02d}:00"
        return {
            "minutes": f"*-*-* *:00/{self.step}:00",
            "hours": f"*-*-* 00/{self.step}:{self.minute:02d}:00",
            "days": f"*-*-01/{self.step} {at}",
            "weekly": f"{WEEKDAYS[self.weekday]} *-*-* {at}",
            "monthly": f"*-*-{self.day:02d} {at}",
        }[self.kind]

    def cron(self) -> str:
        """Return the five time fields of a crontab line."""
        return {
            "minutes": f"*/{self.step} * * * *",
            "hours": f"{self.minute} */{self.step} * * *",
            "days": f"{self.minute} {self.hour} {_day_field(self.step)} * *",
            "weekly": f"{self.minute} {self.hour} * * {(self.weekday + 1) % 7}",
            "monthly": f"{self.minute} {self.hour} {self.day} * *",
        }[self.kind]

    def matches(self, moment: datetime.datetime) -> bool:
        """Given a moment (local time, whole minute), return whether the job starts then."""
        if self.kind == "minutes":
            return moment.minute % self.step == 0
        if moment.minute != self.minute:
            return False
        if self.kind == "hours":
            return moment.hour % self.step == 0
        if moment.hour != self.hour:
            return False
        if self.kind == "days":
            return (moment.day - 1) % self.step == 0
        if self.kind == "weekly":
            return moment.weekday() == self.weekday
        return moment.day == self.day

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """Given a moment, return the first start strictly after it (same time zone)."""
        candidate = moment.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        if self.kind == "minutes":
            while not self.matches(candidate):
                candidate += datetime.timedelta(minutes=1)
            return candidate
        if candidate.minute > self.minute:
            candidate += datetime.timedelta(hours=1)
        candidate = candidate.replace(minute=self.minute)
        for _ in range(SEARCH_LIMIT_HOURS):
            if self.matches(candidate):
                return candidate
            candidate += datetime.timedelta(hours=1)
        raise AssertionError(f"{self} has no start within a month")  # a bug in this module

    def describe(self) -> str:
        at = f"{self.hour:02d}:{self.minute:02d}"
        return {
            "minutes": f"every {self.step} min",
            "hours": f"every {self.step}h at :{self.minute:02d}",
            "days": "daily at " + at if self.step == 1 else f"every {self.step} days at {at}",
            "weekly": f"{WEEKDAYS[self.weekday]} at {at}",
            "monthly": f"monthly on day {self.day} at {at}",
        }[self.kind]


def _day_field(step: int) -> str:
    return "*" if step == 1 else f"1-31/{step}"


def _spread(name: str, modulus: int) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % modulus


def for_interval(hours: float, name: str) -> Timing:
    """Given an interval in hours and the job's name, return the calendar that runs at least that
    often, at a minute (and night hour) fixed by the name."""
    minute, hour = _spread(name, 60), NIGHT_HOURS[_spread(name + "/hour", len(NIGHT_HOURS))]
    if hours < 1:
        step = max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= max(1, hours * 60))
        return Timing("minutes", step=step)
    if hours < 24:
        step = max(d for d in (1, 2, 3, 4, 6, 8, 12) if d <= hours)
        return Timing("hours", step=step, minute=minute)
    if hours < 7 * 24:
        return Timing("days", step=int(hours // 24), minute=minute, hour=hour)
    if hours < 28 * 24:
        return Timing("weekly", minute=minute, hour=hour, weekday=_spread(name + "/day", 7))
    return Timing("monthly", minute=minute, hour=hour, day=1 + _spread(name + "/day", 28))
