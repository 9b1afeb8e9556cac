"""Record one command in the audit log around its body, and mirror custody events after it.

The ``started`` record is written before the body runs: when it cannot be written, the body
does not run (fail closed). The closing record says ``ok`` (exit 0), ``warning`` (exit 5) or
``failed`` with the exit code or error class, never an error message (it may name files).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from typing import Any

from backupctl.actions import custody_audit
from backupctl.audit import trail
from backupctl.errors import ExitCode


def run(
    state_db: pathlib.Path,
    *,
    action: str,
    actor: str,
    subjects: Mapping[str, str],
    record: bool,
    custody: bool,
    body: Callable[[], Any],
) -> Any:
    """Given a command body and its audit action, run it recorded; return what it returns and
    re-raise what it raises (SystemExit included); raise AuditError before the body runs when the
    log cannot be written."""
    if record:
        trail.begin(state_db, action, actor, subjects=subjects)
    try:
        result = body()
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else 0
        if record:
            trail.end(
                state_db,
                action,
                actor,
                outcome=_outcome(code),
                subjects=subjects,
                details={"exit_code": code},
            )
        raise
    except BaseException as error:
        if record:
            trail.failed(state_db, action, actor, error, subjects=subjects)
        raise
    finally:
        if custody:
            custody_audit.mirror(state_db)
    if record:
        trail.end(state_db, action, actor, subjects=subjects, details={"exit_code": 0})
    return result


def _outcome(code: int) -> str:
    if code == ExitCode.OK:
        return "ok"
    return "warning" if code == ExitCode.WARNING else "failed"
