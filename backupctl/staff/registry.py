"""The registered public keys of staff, in state.db (table ``staff_keys``).

Each account has at most one active key; registering a new one revokes the old. A revoked key
stays (its signatures on past requests can still be told apart from forgeries), but signs no
new request or approval.
"""

from __future__ import annotations

import base64
import dataclasses
import sqlite3

from backupctl import state
from backupctl.keys.signing import PublicKey


@dataclasses.dataclass(frozen=True)
class StaffKey:
    account: str
    fingerprint: str
    public_key: bytes
    registered_at: str
    registered_by: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def insert_in(connection: sqlite3.Connection, key: PublicKey, *, by: str, at: str) -> list[str]:
    """Given a write transaction and a public key, register it for its account, revoking the
    account's previous active key; return the fingerprints revoked."""
    revoked = [
        row[0]
        for row in connection.execute(
            "SELECT fingerprint FROM staff_keys WHERE account = ? AND revoked_at IS NULL",
            (key.account,),
        )
    ]
    connection.execute(
        "UPDATE staff_keys SET revoked_at = ?, revoked_by = ?, revoke_reason = 'replaced'"
        " WHERE account = ? AND revoked_at IS NULL",
        (at, by, key.account),
    )
    connection.execute(
        "INSERT INTO staff_keys (fingerprint, account, public_key, registered_at, registered_by)"
        " VALUES (?, ?, ?, ?, ?)",
        (key.fingerprint, key.account, base64.b64encode(key.raw).decode(), at, by),
    )
    return revoked


def revoke_in(
    connection: sqlite3.Connection, account: str, *, by: str, at: str, reason: str
) -> list[str]:
    """Revoke the account's active key; return the fingerprints revoked (none: nothing active)."""
    revoked = [
        row[0]
        for row in connection.execute(
            "SELECT fingerprint FROM staff_keys WHERE account = ? AND revoked_at IS NULL",
            (account,),
        )
    ]
    connection.execute(
        "UPDATE staff_keys SET revoked_at = ?, revoked_by = ?, revoke_reason = ?"
        " WHERE account = ? AND revoked_at IS NULL",
        (at, by, reason, account),
    )
    return revoked


def all_keys(db: object) -> list[StaffKey]:
    """Given the state database path, return every registered key, oldest first."""
    with state.connect(db) as connection:
        return [_key(row) for row in connection.execute(_SELECT + " ORDER BY registered_at")]


def active_key(connection: sqlite3.Connection, account: str) -> StaffKey | None:
    row = connection.execute(
        _SELECT + " WHERE account = ? AND revoked_at IS NULL", (account,)
    ).fetchone()
    return _key(row) if row else None


def by_fingerprint(connection: sqlite3.Connection, fingerprint: str) -> StaffKey | None:
    row = connection.execute(_SELECT + " WHERE fingerprint = ?", (fingerprint,)).fetchone()
    return _key(row) if row else None


_SELECT = (
    "SELECT account, fingerprint, public_key, registered_at, registered_by, revoked_at,"
    " revoked_by, revoke_reason FROM staff_keys"
)


def _key(row: tuple) -> StaffKey:
    return StaffKey(row[0], row[1], base64.b64decode(row[2]), *row[3:])
