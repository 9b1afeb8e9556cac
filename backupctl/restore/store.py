"""Restore requests and their approvals in state.db (tables ``restore_requests`` and
``restore_approvals``).

The status column is bookkeeping for ``restore list``; what decides whether a request may run is
re-derived at run time from the signed bodies (backupctl/restore/checks.py) and, for single use,
from the audit log itself.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sqlite3

from backupctl import state
from backupctl.restore import checks, model

OPEN = ("pending", "approved")


@dataclasses.dataclass(frozen=True)
class StoredRequest:
    body: model.RequestBody
    signature: str
    status: str
    run_by: str | None
    run_at: str | None
    break_glass_reason: str | None
    acknowledged_by: str | None
    acknowledged_at: str | None
    result: dict
    approvals: tuple[checks.StoredApproval, ...]
    denials: tuple[tuple[str, str, str], ...]  # (approver, at, reason)


def insert_in(connection: sqlite3.Connection, body: model.RequestBody, signature: str) -> None:
    connection.execute(
        "INSERT INTO restore_requests (id, body, signature, requester, source, tenant,"
        " created_at, expires_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
        (
            body.id,
            body.canonical().decode("ascii"),
            signature,
            body.requester,
            body.source,
            body.tenant,
            body.created_at,
            body.expires_at,
        ),
    )


def add_decision_in(
    connection: sqlite3.Connection,
    request_id: str,
    *,
    approver: str,
    decision: str,
    body: bytes,
    signature: str,
    at: str,
    reason: str = "",
) -> None:
    connection.execute(
        "INSERT INTO restore_approvals (request_id, approver, decision, body, signature, at,"
        " reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (request_id, approver, decision, body.decode("ascii"), signature, at, reason),
    )


def set_status_in(
    connection: sqlite3.Connection, request_id: str, status: str, **fields: object
) -> None:
    """Set a request's status and any of run_by, run_at, break_glass_reason, acknowledged_by,
    acknowledged_at, result (a dict, stored as JSON)."""
    if "result" in fields:
        fields["result"] = json.dumps(fields["result"], sort_keys=True)
    columns = "".join(f", {name} = ?" for name in fields)
    connection.execute(
        f"UPDATE restore_requests SET status = ?{columns} WHERE id = ?",  # noqa: S608 - names are ours
        (status, *fields.values(), request_id),
    )


def load_in(connection: sqlite3.Connection, request_id: str) -> StoredRequest | None:
    """Given a request id, return the stored request with its approvals, or None."""
    row = connection.execute(
        "SELECT body, signature, status, run_by, run_at, break_glass_reason, acknowledged_by,"
        " acknowledged_at, result FROM restore_requests WHERE id = ?",
        (request_id,),
    ).fetchone()
    if row is None:
        return None
    approvals, denials = [], []
    for approver, decision, body, signature, at, reason in connection.execute(
        "SELECT approver, decision, body, signature, at, reason FROM restore_approvals"
        " WHERE request_id = ? ORDER BY at",
        (request_id,),
    ):
        if decision == "deny":
            denials.append((approver, at, reason))
            continue
        try:
            parsed = model.approval_from_json(body)
        except (ValueError, TypeError):
            parsed = None
        approvals.append(checks.StoredApproval(approver, parsed, signature))
    return StoredRequest(
        model.request_from_json(row[0]),
        row[1],
        row[2],
        *row[3:8],
        json.loads(row[8]) if row[8] else {},
        tuple(approvals),
        tuple(denials),
    )


def load(db: pathlib.Path, request_id: str) -> StoredRequest | None:
    with state.connect(db) as connection:
        return load_in(connection, request_id)


def summaries(db: pathlib.Path, *, limit: int = 100) -> list[dict]:
    """Return the newest requests as rows (id, requester, source, tenant, created, expires,
    status, break-glass and acknowledgement), newest first."""
    with state.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT id, requester, source, tenant, created_at, expires_at,"
            " CASE WHEN status = 'pending' AND expires_at < ? THEN 'expired' ELSE status END"
            " AS status, run_by, run_at, break_glass_reason, acknowledged_by"
            " FROM restore_requests ORDER BY created_at DESC, id LIMIT ?",
            (state.utc_now(), limit),
        ).fetchall()
        return [dict(row) for row in rows]


def unacknowledged_break_glass(db: pathlib.Path) -> list[dict]:
    """Return the break-glass restores no auditor has acknowledged yet."""
    with state.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT id, run_by, run_at, source, break_glass_reason FROM restore_requests"
            " WHERE break_glass_reason IS NOT NULL AND acknowledged_by IS NULL ORDER BY run_at"
        ).fetchall()
        return [dict(row) for row in rows]


def was_run_in(connection: sqlite3.Connection, request_id: str) -> bool:
    """Return whether the audit log records a run of this request already (single use)."""
    return (
        connection.execute(
            "SELECT 1 FROM audit_log WHERE action = 'restore.run' AND outcome = 'started'"
            " AND json_extract(subjects, '$.request') = ? LIMIT 1",
            (request_id,),
        ).fetchone()
        is not None
    )


def break_glass_warnings(db: pathlib.Path) -> list[str]:
    """Return one loud line per break-glass restore no auditor has acknowledged (for `status`)."""
    return [
        f"BREAK GLASS: restore {row['id']} of {row['source']} run by {row['run_by']} at "
        f"{row['run_at']} without approval ({row['break_glass_reason']}); an auditor must "
        f"acknowledge it: backupctl restore acknowledge {row['id']}"
        for row in unacknowledged_break_glass(db)
    ]
