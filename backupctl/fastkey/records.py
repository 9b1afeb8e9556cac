"""The ``fast_keys`` table of the state database: per source, the id of its fast key."""

from __future__ import annotations

import pathlib

from backupctl import state


def recorded(db: pathlib.Path, source: str) -> str | None:
    """Given a source, return the id of its fast key, or None when none was recorded."""
    with state.connect(db) as connection:
        row = connection.execute(
            "SELECT key_id FROM fast_keys WHERE source = ?", (source,)
        ).fetchone()
    return row[0] if row else None


def remember(db: pathlib.Path, source: str, key_id: str, *, location: str, how: str) -> None:
    """Record ``key_id`` as the source's fast key (replacing an earlier one), written first at
    ``location``; ``how`` is 'made' or 'found'."""
    with state.connect(db) as connection:
        connection.execute(
            "INSERT INTO fast_keys (source, key_id, made_at, location, how) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(source) DO UPDATE SET key_id = excluded.key_id, made_at ="
            " excluded.made_at, location = excluded.location, how = excluded.how",
            (source, key_id, state.utc_now(), location, how),
        )
