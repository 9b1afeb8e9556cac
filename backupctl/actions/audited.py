"""Refusals that leave a trace: every denied or refused step is an audit record before it exits.

Used by the restore and staff actions; the record is written first, so a refusal that cannot be
recorded still refuses (with AuditError, exit 3).
"""

from __future__ import annotations

import contextlib
import hashlib
import pathlib
import re
import sqlite3
from collections.abc import Iterator, Mapping
from typing import NoReturn

from backupctl import access, state
from backupctl.audit import log
from backupctl.config import Config
from backupctl.errors import RefusedError
from backupctl.identity import Actor
from policies.access import Role


def refuse(
    db: pathlib.Path,
    *,
    action: str,
    actor: Actor,
    reason: str,
    subjects: Mapping[str, str] | None = None,
    outcome: str = "refused",
) -> NoReturn:
    """Record that ``action`` was refused for ``reason``, then raise RefusedError (exit 4)."""
    log.append(
        db,
        log.Event(
            recorded_action(action),
            actor.name,
            outcome,
            dict(subjects or {}),
            {"reason": redact(reason), "step": action},
        ),
    )
    raise RefusedError(f"refused: {reason}")


def require_role(
    config: Config,
    role: Role,
    *,
    actor: Actor,
    action: str,
    tenant: str | None = None,
    subjects: Mapping[str, str] | None = None,
) -> Actor:
    """Given the role a step needs, return the actor; record a ``denied`` record for ``action``
    and raise AccessDenied (exit 4) when they lack it."""
    try:
        return access.require(config.access, role, tenant=tenant, actor=actor)
    except access.AccessDenied as error:
        log.append(
            state.db_path(config.state_dir),
            log.Event(
                recorded_action(action),
                actor.name,
                "denied",
                dict(subjects or {}),
                {"reason": redact(str(error)), "role": role.value, "step": action},
            ),
        )
        raise


PATH = re.compile(r"(?<![\w<])/[^\s,;)'\"]*")


def redact(text: str) -> str:
    """Given a sentence for an audit record, return it with every path replaced by ``<path>``:
    paths may name customers' files, and the log holds no personal data beyond staff and
    customer ids (so erasing a customer never touches it)."""
    return PATH.sub("<path>", text)[:500]


def typed_text(text: str) -> dict[str, object]:
    """Given free text a person typed (a reason), return what the log keeps of it: its SHA-256
    and length; the text itself stays in the restore tables, which erasure can reach."""
    return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "length": len(text)}


def recorded_action(action: str) -> str:
    """Given the step refused, return the action its record carries: every refusal on the
    restore path (request, approve, run, browse, ...) is one action, ``restore.refused``, so
    alerts find them all; other steps keep their own name with outcome refused or denied."""
    return "restore.refused" if action.startswith(("restore.", "browse")) else action


@contextlib.contextmanager
def transaction(db: pathlib.Path) -> Iterator[sqlite3.Connection]:
    """Yield a connection inside one write transaction: committed at the end of the block, rolled
    back on any exception (a state change and its audit record land together or not at all)."""
    try:
        with state.connect(db) as connection:
            connection.isolation_level = None
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            finally:
                connection.isolation_level = ""
    except sqlite3.Error as error:
        raise log.AuditError(f"cannot write the state database {db}: {error}") from None
