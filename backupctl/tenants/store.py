"""The tenant tables of state.db (``tenant_events``, ``tenant_destruction``,
``tenant_erased_keys``): read and written here only.

Changes are appended inside the caller's transaction, so a change and its audit record land
together (``backupctl/actions/audited.py``).
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import sqlite3

from backupctl import state
from backupctl.tenants import states


def _moment(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _change(row: sqlite3.Row) -> states.Change:
    return states.Change(
        kind=states.Kind(row["kind"]),
        actor=row["actor"],
        at=_moment(row["at"]),
        reason=row["reason"],
        reference=row["reference"],
        effective=datetime.date.fromisoformat(row["effective"]) if row["effective"] else None,
        run_id=row["run_id"],
    )


def changes_in(connection: sqlite3.Connection, tenant: str) -> list[states.Change]:
    """Given a connection and a tenant, return its recorded changes, oldest first."""
    connection.row_factory = sqlite3.Row
    rows = connection.execute(
        "SELECT * FROM tenant_events WHERE tenant = ? ORDER BY id", (tenant,)
    ).fetchall()
    return [_change(row) for row in rows]


def standing_in(connection: sqlite3.Connection, tenant: str) -> states.Standing:
    return states.replay(tenant, changes_in(connection, tenant))


def standing(db: pathlib.Path, tenant: str) -> states.Standing:
    """Given the state database and a tenant, return where the tenant stands."""
    with state.connect(db) as connection:
        return standing_in(connection, tenant)


def standings(db: pathlib.Path, tenants: set[str] | frozenset[str]) -> dict[str, states.Standing]:
    """Given tenants (those of the config), return each one's standing, plus every tenant with
    recorded changes that the config no longer names."""
    with state.connect(db) as connection:
        rows = connection.execute("SELECT DISTINCT tenant FROM tenant_events")
        recorded = {row[0] for row in rows}
        return {name: standing_in(connection, name) for name in sorted(set(tenants) | recorded)}


def append_in(connection: sqlite3.Connection, tenant: str, change: states.Change) -> None:
    """Given a connection inside a write transaction, record one change of a tenant."""
    connection.execute(
        "INSERT INTO tenant_events (tenant, kind, actor, at, reason, reference, effective, run_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant,
            change.kind.value,
            change.actor,
            change.at.isoformat(timespec="seconds"),
            change.reason,
            change.reference,
            change.effective.isoformat() if change.effective else None,
            change.run_id,
        ),
    )


@dataclasses.dataclass(frozen=True)
class LocationDestruction:
    """Where one source's destruction stands at one location."""

    source: str
    location: str
    started_at: str
    run_id: int
    finished_at: str | None
    removed: int
    bytes: int
    leftovers: int
    checked: str
    remaining: str


@dataclasses.dataclass(frozen=True)
class ErasedKey:
    source: str
    entry: str
    erased_at: str
    run_id: int


def destruction(db: pathlib.Path, tenant: str) -> list[LocationDestruction]:
    """Given a tenant, return where its destruction stands at each source and location."""
    with state.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT source, location, started_at, run_id, finished_at, removed, bytes, leftovers,"
            " checked, remaining FROM tenant_destruction WHERE tenant = ?"
            " ORDER BY source, location",
            (tenant,),
        ).fetchall()
    return [LocationDestruction(**dict(row)) for row in rows]


def record_location_in(
    connection: sqlite3.Connection, tenant: str, entry: LocationDestruction
) -> None:
    """Record (or update, adding the counts) one source's destruction at one location."""
    connection.execute(
        "INSERT INTO tenant_destruction (tenant, source, location, started_at, run_id,"
        " finished_at, removed, bytes, leftovers, checked, remaining)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(tenant, source, location) DO UPDATE SET run_id = excluded.run_id,"
        " finished_at = excluded.finished_at, removed = removed + excluded.removed,"
        " bytes = bytes + excluded.bytes, leftovers = leftovers + excluded.leftovers,"
        " checked = excluded.checked, remaining = excluded.remaining",
        (
            tenant,
            entry.source,
            entry.location,
            entry.started_at,
            entry.run_id,
            entry.finished_at,
            entry.removed,
            entry.bytes,
            entry.leftovers,
            entry.checked,
            entry.remaining,
        ),
    )


def erased_keys(db: pathlib.Path, tenant: str) -> list[ErasedKey]:
    with state.connect(db) as connection:
        rows = connection.execute(
            "SELECT source, entry, erased_at, run_id FROM tenant_erased_keys WHERE tenant = ?"
            " ORDER BY entry",
            (tenant,),
        ).fetchall()
    return [ErasedKey(*row) for row in rows]


def record_erased_key_in(connection: sqlite3.Connection, tenant: str, key: ErasedKey) -> None:
    connection.execute(
        "INSERT INTO tenant_erased_keys (tenant, source, entry, erased_at, run_id)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(tenant, entry) DO NOTHING",
        (tenant, key.source, key.entry, key.erased_at, key.run_id),
    )


def escrow_after(db: pathlib.Path, moment: str) -> str | None:
    """Return when the first keystore escrow after ``moment`` was made (the audit log's
    ``keys.escrow`` records), or None when none was."""
    with state.connect(db) as connection:
        row = connection.execute(
            "SELECT MIN(at) FROM audit_log WHERE action = 'keys.escrow' AND outcome = 'ok'"
            " AND at > ?",
            (moment,),
        ).fetchone()
    return row[0] if row and row[0] else None
