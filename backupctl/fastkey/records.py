"""The ``fast_keys`` table of the state database: per source, the id of its fast key."""

from __future__ import annotations

import pathlib

from backupctl import state
from backupctl.audit import log


def recorded(db: pathlib.Path, source: str) -> str | None:
    """Given a source, return the id of its fast key, or None when none was recorded."""
    with state.connect(db) as connection:
        row = connection.execute(
            "SELECT key_id FROM fast_keys WHERE source = ?", (source,)
        ).fetchone()
    return row[0] if row else None


def remember(
    db: pathlib.Path, source: str, key_id: str, *, location: str, how: str, actor: str
) -> None:
    """Record ``key_id`` as the source's fast key (replacing an earlier one), written first at
    ``location``; ``how`` is 'made' or 'found'. The audit log gets a ``repository.key`` record
    by ``actor`` in the same transaction (a key change: the key id is not secret); raise
    AuditError when the record cannot be written (nothing is recorded then)."""
    event = log.Event(
        "repository.key",
        actor,
        "ok",
        {"source": source, "location": location},
        {"key": key_id, "how": how, "kdf": "scrypt", "purpose": "fast key (docs/keystore.md)"},
    )
    with state.connect(db) as connection:  # the first write takes the database's write lock
        connection.execute(
            "INSERT INTO fast_keys (source, key_id, made_at, location, how) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(source) DO UPDATE SET key_id = excluded.key_id, made_at ="
            " excluded.made_at, location = excluded.location, how = excluded.how",
            (source, key_id, state.utc_now(), location, how),
        )
        log.append_in(connection, event)
