"""Mirror the repair jobs' custody events into the audit log.

``recovery`` keeps custody in its own hash-chained ledger and may not import backupctl, so the
actions copy each new ledger entry into the audit log after a job or media command: action
``custody.<kind>`` (``custody.job.opened``, ``custody.image.finished``, ...), the job id as
subject, and the ledger position, event sequence and event digest as details (never the event's
free text: a note may name a person). The position mirrored so far is kept in ``audit_marks``;
a mirror that fails is caught up by the next one, since the ledger keeps every event.
"""

from __future__ import annotations

import logging
import pathlib
import sqlite3

from backupctl import state
from backupctl.audit import log
from recovery import ledger

logger = logging.getLogger(__name__)

MARK = "custody-ledger"


def mirror(state_db: pathlib.Path) -> int:
    """Given the state database, append an audit record for each custody event not mirrored yet
    and return how many; log (never raise) when it cannot: the next mirror catches up."""
    try:
        with state.connect(state_db) as connection:
            connection.isolation_level = None
            connection.execute("BEGIN IMMEDIATE")
            try:
                count = _mirror_in(connection)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            finally:
                connection.isolation_level = ""
            return count
    except (sqlite3.Error, OSError, log.AuditError) as error:
        logger.error("custody events not yet in the audit log (caught up next time): %s", error)
        return 0


def _mirror_in(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT value FROM audit_marks WHERE name = ?", (MARK,)).fetchone()
    mark = row[0] if row else 0
    entries = ledger.entries_after(connection, mark)
    for position, job_id, sequence, digest, kind, actor in entries:
        log.append_in(
            connection,
            log.Event(
                f"custody.{kind}",
                actor,
                "ok",
                subjects={"job": job_id},
                details={"ledger": position, "sequence": sequence, "digest": digest},
            ),
        )
        mark = position
    connection.execute(
        "INSERT INTO audit_marks (name, value) VALUES (?, ?)"
        " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (MARK, mark),
    )
    return len(entries)
