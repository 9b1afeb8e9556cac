"""Select audit records by time, actor, action and tenant, for ``audit show`` and ``audit export``.

``since`` is an ISO date or time (UTC when it names no zone) or an age such as ``7d`` or ``12h``;
``action`` matches the action itself or every action under it (``restore`` matches
``restore.run``); ``tenant`` matches a record whose subjects name the tenant (``tenant``) or list
it (``tenants``).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import re
from collections.abc import Iterator

from backupctl import state
from backupctl.audit import log
from backupctl.errors import ConfigError

_AGE = re.compile(r"^(\d{1,5})([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@dataclasses.dataclass(frozen=True)
class Filters:
    since: str | None = None  # normalised: ISO time in UTC
    actor: str | None = None
    action: str | None = None
    tenant: str | None = None


def parse_since(text: str, *, now: datetime.datetime) -> str:
    """Given ``--since`` as typed and the current time, return the ISO time in UTC it means;
    raise ConfigError (exit 2) when it is neither an ISO date/time nor an age like ``7d``."""
    age = _AGE.match(text.strip())
    if age:
        moment = now - datetime.timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    else:
        try:
            moment = datetime.datetime.fromisoformat(text.strip())
        except ValueError:
            raise ConfigError(
                f"--since {text!r}: expected an ISO date or time, or an age like 7d, 12h, 30m"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def select(db: pathlib.Path, filters: Filters) -> Iterator[log.Record]:
    """Given the state database and the filters, yield the matching records in order."""
    clauses, values = [], []
    if filters.since:
        clauses.append("at >= ?")
        values.append(filters.since)
    if filters.actor:
        clauses.append("actor = ?")
        values.append(filters.actor)
    if filters.action:
        clauses.append("(action = ? OR substr(action, 1, ?) = ?)")
        values += [filters.action, len(filters.action) + 1, filters.action + "."]
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    with state.connect(db) as connection:
        cursor = connection.execute(
            "SELECT seq, at, actor, action, subjects, outcome, details, prev, hash"
            f" FROM audit_log{where} ORDER BY seq",
            values,
        )
        for row in cursor:
            record = log.Record(
                row[0],
                row[1],
                row[2],
                row[3],
                json.loads(row[4]),
                row[5],
                json.loads(row[6]),
                row[7],
                row[8],
            )
            if filters.tenant is None or tenant_of(record, filters.tenant):
                yield record


def tenant_of(record: log.Record, tenant: str) -> bool:
    """Given a record and a tenant, return whether the record's subjects name the tenant."""
    subjects = record.subjects
    return subjects.get("tenant") == tenant or tenant in subjects.get("tenants", "").split(",")


def as_dict(record: log.Record) -> dict:
    """Given a record, return it as a JSON-ready dict (the export and ``--json`` form)."""
    return dataclasses.asdict(record) | {
        "subjects": dict(record.subjects),
        "details": dict(record.details),
    }
