"""The ``[operations]`` table of the configuration: unattended runs and monitoring.

```toml
[operations]
unit_dir = "/etc/systemd/system"        # where `schedule install` writes its units
check_schedule = "weekly"               # how often `check` runs
check_read_days = 28                     # all data is read by `check` over this many days
metrics_file = "/var/lib/prometheus/node-exporter/backupctl.prom"
ping_failure = "https://hc-ping.com/<uuid>/fail"
```

Every key is optional; without the table nothing is pinged and no metrics file is written.
"""

from __future__ import annotations

import dataclasses
import pathlib
import urllib.parse
from typing import Any

from backupctl import config_schema as schema


def _url(value: str) -> str | None:
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        return "must be an http:// or https:// URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    if any(ord(character) < 33 for character in value):
        return "must not contain spaces or control characters"
    return None


def _check_days(value: int) -> str | None:
    return None if 1 <= value <= 366 else "must be 1 to 366 days"


def _drill_files(value: int) -> str | None:
    return None if 1 <= value <= 1000 else "must be 1 to 1000 files"


def _lock_wait(value: int) -> str | None:
    return None if 0 <= value <= 1440 else "must be 0 to 1440 minutes"


def _timeout(value: int) -> str | None:
    return None if 1 <= value <= 120 else "must be 1 to 120 seconds"


OPERATIONS_KEYS = (
    schema.Key(
        "unit_dir",
        "str",
        default="/etc/systemd/system",
        check=schema._absolute,
        help="Where `schedule install --systemd` writes its service and timer units.",
    ),
    schema.Key(
        "cron_file",
        "str",
        default="/etc/cron.d/backupctl",
        check=schema._absolute,
        help="The file `schedule install --cron` writes.",
    ),
    schema.Key(
        "check_schedule",
        "str",
        default="weekly",
        check=schema._schedule,
        help='How often `check` runs unattended: "hourly", "daily", "weekly" or "<N>h".',
    ),
    schema.Key(
        "check_read_days",
        "int",
        default=28,
        check=_check_days,
        help="`check` reads a rotating subset of the data so that all of it is read within "
        "this many days.",
    ),
    schema.Key(
        "lock_wait_minutes",
        "int",
        default=60,
        check=_lock_wait,
        help="How long a scheduled job waits for a source another run is working on before it "
        "gives that source up (a run started by hand never waits).",
    ),
    schema.Key(
        "drill_files",
        "int",
        default=5,
        check=_drill_files,
        help="How many files a restore drill restores and compares per source.",
    ),
    schema.Key(
        "drill_max_bytes",
        "int",
        default=256 * 1024 * 1024,
        check=schema._positive,
        help="The most a restore drill restores per source, in bytes (larger files are not "
        "chosen).",
    ),
    schema.Key(
        "metrics_file",
        "str",
        check=schema._absolute,
        help="Prometheus textfile for node_exporter, rewritten atomically after each scheduled "
        "job (ids, counts, sizes and times only).",
    ),
    schema.Key(
        "ping_start",
        "str",
        check=_url,
        help="URL that gets a POST (JSON: job, event, host) when a scheduled job starts.",
    ),
    schema.Key(
        "ping_success",
        "str",
        check=_url,
        help="URL that gets a POST when a scheduled job succeeds.",
    ),
    schema.Key(
        "ping_failure",
        "str",
        check=_url,
        help="URL that gets a POST (with the exit code) when a scheduled job fails.",
    ),
    schema.Key(
        "ping_timeout_seconds",
        "int",
        default=10,
        check=_timeout,
        help="How long one ping may take before it is given up (it never fails the job).",
    ),
)


@dataclasses.dataclass(frozen=True)
class Operations:
    unit_dir: pathlib.Path = pathlib.Path("/etc/systemd/system")
    cron_file: pathlib.Path = pathlib.Path("/etc/cron.d/backupctl")
    check_schedule: str = "weekly"
    check_hours: float = 168.0
    check_read_days: int = 28
    lock_wait_minutes: int = 60
    drill_files: int = 5
    drill_max_bytes: int = 256 * 1024 * 1024
    metrics_file: pathlib.Path | None = None
    ping_start: str | None = dataclasses.field(default=None, repr=False)
    ping_success: str | None = dataclasses.field(default=None, repr=False)
    ping_failure: str | None = dataclasses.field(default=None, repr=False)
    ping_timeout_seconds: int = 10


def parse_operations(raw: Any, errors: list[str]) -> Operations:
    """Given the raw ``[operations]`` table (None when absent), return its values; append each
    problem to errors."""
    if raw is None:
        return Operations()
    values = schema.check_table(raw, OPERATIONS_KEYS, "operations", errors)
    if not values:
        return Operations()
    return Operations(
        unit_dir=pathlib.Path(values["unit_dir"]),
        cron_file=pathlib.Path(values["cron_file"]),
        check_schedule=values["check_schedule"],
        check_hours=schema.parse_interval_hours(values["check_schedule"]) or 168.0,
        check_read_days=values["check_read_days"],
        lock_wait_minutes=values["lock_wait_minutes"],
        drill_files=values["drill_files"],
        drill_max_bytes=values["drill_max_bytes"],
        metrics_file=pathlib.Path(values["metrics_file"]) if values["metrics_file"] else None,
        ping_start=values["ping_start"],
        ping_success=values["ping_success"],
        ping_failure=values["ping_failure"],
        ping_timeout_seconds=values["ping_timeout_seconds"],
    )
