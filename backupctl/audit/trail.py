"""Record an action in the audit log around the work it does: ``begin`` before anything is
touched (fail closed: when it cannot be written the action does not happen), ``end`` with the
outcome, ``failed`` when the work raised.

Details carry ids, counts, sizes and error classes, never file contents, file names or free
text a person typed (docs/audit.md).
"""

from __future__ import annotations

import logging
import pathlib
import sqlite3
from collections.abc import Mapping
from typing import Any

from backupctl.audit import log

logger = logging.getLogger(__name__)


def begin(
    db: pathlib.Path,
    action: str,
    actor: str,
    *,
    subjects: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
    connection: sqlite3.Connection | None = None,
) -> log.Record:
    """Given the state database and what is about to happen, write its ``started`` record (on
    ``connection`` when given) and return it once it is durable; raise AuditError when it
    cannot be written (then the caller must not act)."""
    event = log.Event(action, actor, "started", dict(subjects or {}), dict(details or {}))
    return log.append(db, event, connection=connection)


def end(
    db: pathlib.Path,
    action: str,
    actor: str,
    *,
    outcome: str = "ok",
    subjects: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> log.Record:
    """Given what happened, write the action's closing record; raise AuditError when it cannot
    be written (the action is done, so the command fails loudly instead of ending quietly)."""
    event = log.Event(action, actor, outcome, dict(subjects or {}), dict(details or {}))
    return log.append(db, event)


def failed(
    db: pathlib.Path,
    action: str,
    actor: str,
    error: BaseException,
    *,
    subjects: Mapping[str, str] | None = None,
) -> None:
    """Given the error an action raised, record its failure (by error class and exit code, not
    its message, which may name files); when even that cannot be written, log it: the original
    error is the one the caller reports."""
    details = {"error": type(error).__name__, "exit_code": getattr(error, "exit_code", None)}
    if isinstance(error, KeyboardInterrupt):
        details = {"error": "interrupted", "exit_code": 130}
    try:
        log.append(db, log.Event(action, actor, "failed", dict(subjects or {}), details))
    except log.AuditError as problem:
        logger.error("the failure of %s could not be recorded: %s", action, problem)
