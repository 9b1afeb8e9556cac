"""The audit records of a run over sources (init, backup): ``started`` before anything is
touched (fail closed), the outcome per source and location when it ends, and one
``location.foreign_files`` warning for each location where files turned up that backupctl did
not write (an alert pattern, docs/audit.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import pathlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from backupctl import errors, identity, state
from backupctl.audit import checkpoint, events, log, trail
from backupctl.config import Source
from backupctl.results import RunReport

if TYPE_CHECKING:
    from backupctl.actions.verify import VerifyReport

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Audited:
    """A run whose ``started`` record is written, with the connection its records go through
    (one per run: SQLite syncs a WAL file's directory once per connection, and with this one
    open the run's other connections close without checkpointing the WAL)."""

    db: pathlib.Path
    state_dir: pathlib.Path
    host: str
    action: str
    actor: str
    subjects: dict[str, str]
    connection: sqlite3.Connection = dataclasses.field(repr=False, compare=False)
    closer: contextlib.ExitStack = dataclasses.field(repr=False, compare=False)


def started(
    state_dir: pathlib.Path, *, command: str, actor: str, host: str, sources: Sequence[Source]
) -> Audited:
    """Given a run about to start, write its ``started`` record (durable before this returns);
    raise AuditError when it cannot be written (then the run does not start). The run's
    connection stays open until ``finished``."""
    db = state.db_path(state_dir)
    closer = contextlib.ExitStack()
    try:
        connection = closer.enter_context(state.connect(db))
        audited = Audited(
            db,
            state_dir,
            host,
            f"{command}.run",
            actor,
            events.run_subjects(sources),
            connection,
            closer,
        )
        trail.begin(db, audited.action, actor, subjects=audited.subjects, connection=connection)
    except sqlite3.Error as error:
        closer.close()
        raise log.AuditError(f"cannot write the audit log in {db}: {error}") from None
    except BaseException:
        closer.close()
        raise
    return audited


def finished(audited: Audited, report: RunReport, *, finished: bool) -> None:
    """Given the run's report, write its closing records and a signed checkpoint in one
    transaction, then close the run's connection; raise AuditError when a finished run cannot
    be recorded (an interrupted one only logs it: the interruption is what to report)."""
    with audited.closer:
        _close(audited, report, finished=finished)


def _close(audited: Audited, report: RunReport, *, finished: bool) -> None:
    closing = log.Event(
        audited.action,
        audited.actor,
        events.run_outcome(report, finished=finished),
        audited.subjects,
        events.run_details(report, finished=finished),
    )
    if not finished:
        try:
            log.append(audited.db, closing, connection=audited.connection)
        except log.AuditError as error:
            logger.error("the end of the interrupted run could not be recorded: %s", error)
        return
    foreign = [
        log.Event(
            "location.foreign_files",
            audited.actor,
            "warning",
            {"source": source, "location": location},
            {"count": count, "run": report.run_id},
        )
        for source, location, count in events.foreign_by_location(report)
    ]
    checkpoint.make(
        audited.db,
        audited.state_dir,
        host=audited.host,
        events=[closing, *foreign],
        connection=audited.connection,
    )


def verify_recorded(
    db: pathlib.Path, sources: Sequence[Source], run: Callable[[], list[VerifyReport]]
) -> list[VerifyReport]:
    """Given the sources and the verification to run, run it between its ``started`` record
    (fail closed) and its closing one; return the reports."""
    actor = identity.current().name
    subjects = events.run_subjects(sources)
    trail.begin(db, "verify.run", actor, subjects=subjects)
    try:
        reports = run()
    except BaseException as error:
        trail.failed(db, "verify.run", actor, error, subjects=subjects)
        raise
    code = int(errors.most_serious([report.exit_code for report in reports]))
    outcome = "ok" if code == 0 else ("warning" if code == 5 else "failed")
    details = events.verify_details(reports)
    trail.end(db, "verify.run", actor, outcome=outcome, subjects=subjects, details=details)
    return reports
