"""Run one step over several sources as one recorded run: each source's results are written to
the state database as they come, and the run ends with the code the CLI exits with (130 when it
was interrupted before every source was done)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterable

from backupctl import state
from backupctl.actions import run_audit
from backupctl.config import Source
from backupctl.errors import ExitCode
from backupctl.results import RunReport, SourceReport


def run_recorded(
    state_dir: pathlib.Path,
    *,
    command: str,
    actor: str,
    host: str,
    tags: Iterable[str] = (),
    sources: list[Source],
    each: Callable[[Source], SourceReport],
) -> RunReport:
    """Given the sources and what to do with each, do it in turn; return the run's report (also
    recorded, with every location's result)."""
    return run_recorded_with_id(
        state_dir,
        command=command,
        actor=actor,
        host=host,
        tags=tags,
        sources=sources,
        each=lambda run_id, source: each(source),
    )


def run_recorded_with_id(
    state_dir: pathlib.Path,
    *,
    command: str,
    actor: str,
    host: str,
    tags: Iterable[str] = (),
    sources: list[Source],
    each: Callable[[int, Source], SourceReport],
) -> RunReport:
    """As ``run_recorded``, for steps that record more under the run: ``each`` also gets the run
    id."""
    db = state.db_path(state_dir)
    audited = run_audit.started(  # fail closed: no record, no run (synced before the run acts)
        state_dir, command=command, actor=actor, host=host, sources=sources
    )
    with state.session(db):  # one connection for the run, not several per source
        run_id = state.start_run(db, command=command, actor=actor, host=host, tags=tags)
        reports: list[SourceReport] = []
        try:
            for source in sources:
                report = each(run_id, source)
                state.record_results(db, run_id, report.results)
                reports.append(report)
        finally:  # the recorded code is the one the CLI exits with
            outcome = RunReport(run_id, tuple(reports))
            finished = len(reports) == len(sources)
            state.finish_run(db, run_id, outcome.exit_code if finished else ExitCode.INTERRUPTED)
            run_audit.finished(audited, outcome, finished=finished)
    return outcome
