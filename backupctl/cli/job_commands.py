"""`backupctl job`: repair jobs with the customer's consent and a chain of custody."""

from __future__ import annotations

import json
import pathlib
import sys

import click

from backupctl.actions import closeout as closeout_actions
from backupctl.actions import job_report as report_actions
from backupctl.actions import jobs as job_actions
from backupctl.cli import context
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, requires
from backupctl.cli.text import shown


def _store(app: context.AppContext) -> job_actions.JobStore:
    return job_actions.store(state_dir=app.state_dir(), state_db=app.state_db())


def _medium_text(job: job_actions.Job) -> str:
    medium = job.medium
    if medium is None:
        return "none attached (backupctl job attach, or media watch --attach-to)"
    return (
        f"{shown(medium.node)}  {shown(medium.kind)}  {shown(medium.model)}  "
        f"serial {shown(medium.serial)}  {job_actions.describe_size(medium.size_bytes)}  "
        f"sectors {medium.logical_sector_size}/{medium.physical_sector_size}"
    )


def _print_job(job: job_actions.Job, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(job.to_dict(), indent=2))
        return
    click.echo(f"job      {job.job_id} ({job.status})")
    for label, value in (
        ("customer", job.customer),
        ("consent", job.consent_ref),
        ("ticket", job.ticket),
        ("note", job.note),
        ("opened", job.opened_at),
        ("closed", job.closed_at),
    ):
        if value:
            click.echo(f"{label:<8} {shown(value)}")
    click.echo(f"medium   {_medium_text(job)}")
    click.echo(f"folder   {shown(job.folder)}")


@click.group()
def job() -> None:
    """Repair jobs: open with consent, attach the medium, show the custody record, write the
    customer's report, close with the outcome, and purge the workshop's copies when due."""


@job.command("open")
@click.option("--customer", required=True, help="The customer's name or number.")
@click.option(
    "--consent",
    "consent_ref",
    required=True,
    help="Reference of the customer's signed consent (form or e-mail id): 1-64 letters, digits,"
    " and . _ : / # -",
)
@click.option("--ticket", help="The support ticket this job belongs to (same characters).")
@click.option("--note", help="Free text: what the customer reported, the medium's condition.")
@json_option
@click.pass_obj
@requires(Role.TECHNICIAN, action="job.open", record=True, custody=True)
def open_command(
    app: context.AppContext,
    customer: str,
    consent_ref: str,
    ticket: str | None,
    note: str | None,
    as_json: bool,
) -> None:
    """Open a repair job for a customer's medium; prints the new job id."""
    opened = job_actions.open_job(
        _store(app),
        customer=customer,
        consent_ref=consent_ref,
        ticket=ticket,
        note=note,
        actor=context.actor(),
        host=context.host(),
    )
    _print_job(opened, as_json)


@job.command("attach")
@click.argument("job_id", metavar="JOB")
@click.argument("device", metavar="DEVICE")
@click.option(
    "--allow-system-device",
    "allow_system",
    is_flag=True,
    help="Attach even a system device (mounted, swap, toolkit state); recorded in custody.",
)
@json_option
@click.pass_obj
@requires(
    Role.TECHNICIAN, action="job.attach", record=True, subjects={"job": "job_id"}, custody=True
)
def attach_command(
    app: context.AppContext, job_id: str, device: str, allow_system: bool, as_json: bool
) -> None:
    """Record the identity of the medium at DEVICE (model, serial, size, sectors) on JOB."""
    attached = job_actions.attach_device(
        _store(app),
        job_id,
        device,
        state_dir=app.state_dir(),
        allow_system=allow_system,
        actor=context.actor(),
        host=context.host(),
    )
    _print_job(attached, as_json)


def _days(app: context.AppContext) -> int:
    """Return the configured days copies are kept after close (the default without a config)."""
    configured = app.config().job_copies_days if app.config_path.exists() else None
    return closeout_actions.kept_days(configured)


def _print_event(event: job_actions.CustodyEvent) -> None:
    click.echo(
        f"  {event.sequence:>3}  {shown(event.at)}  {shown(event.actor)}@{shown(event.host)}  "
        f"{shown(job_actions.describe_event(event))}"
    )


@job.command("show")
@click.argument("job_id", metavar="JOB")
@json_option
@click.pass_obj
@requires(Role.TECHNICIAN, Role.AUDITOR, action="job.show")
def show_command(app: context.AppContext, job_id: str, as_json: bool) -> None:
    """Show a job, its custody events and whether their hash chain verifies (exit 3 when not)."""
    job_store = _store(app)
    report = job_actions.report(job_store, job_id)
    copies = closeout_actions.deletion(
        job_store, job_id, days=_days(app), now=closeout_actions.now_or(None)
    )
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "copies": copies}, indent=2))
    else:
        _print_job(report.job, as_json=False)
        click.echo(f"copies   {copies}")
        click.echo("custody")
        for event in report.events:
            _print_event(event)
        verdict = "verifies" if report.verifies else "BROKEN"
        click.echo(f"chain    {verdict}: {shown(report.explanation)}")
    job_actions.require_verified(report)


@job.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only jobs that are still open.")
@json_option
@click.pass_obj
@requires(Role.TECHNICIAN, Role.AUDITOR, action="job.list")
def list_command(app: context.AppContext, open_only: bool, as_json: bool) -> None:
    """List repair jobs, oldest first; exit 3 when a job row was deleted or the ledger broken."""
    found = job_actions.list_jobs(_store(app), open_only=open_only)
    if as_json:
        click.echo(json.dumps([item.to_dict() for item in found.jobs], indent=2))
    else:
        _print_list(found)
    job_actions.require_intact(found)


def _print_list(found: job_actions.JobList) -> None:
    if not found.jobs:
        click.echo("no jobs")
    for item in found.jobs:
        medium = (
            f"{shown(item.medium.node)} {shown(item.medium.serial)}" if item.medium else "no medium"
        )
        click.echo(
            f"{item.job_id}  {item.status:<6}  {item.opened_at}  {shown(item.customer)}  "
            f"{shown(item.ticket)}  {medium}"
        )
    for problem in found.problems:
        click.echo(f"ledger   BROKEN: {shown(problem)}")


@job.command("note")
@click.argument("job_id", metavar="JOB")
@click.argument("text")
@click.pass_obj
@requires(Role.TECHNICIAN, action="job.note", record=True, subjects={"job": "job_id"}, custody=True)
def note_command(app: context.AppContext, job_id: str, text: str) -> None:
    """Add a note to the job's custody record (what was seen, what the customer said)."""
    sequence = job_actions.add_note(
        _store(app), job_id, text, actor=context.actor(), host=context.host()
    )
    click.echo(f"{job_id}: event {sequence} recorded")


@job.command("close")
@click.argument("job_id", metavar="JOB")
@click.option(
    "--outcome",
    required=True,
    type=click.Choice(closeout_actions.OUTCOMES),
    help="What happened: returned (medium given back without recovery), recovered (data handed"
    " over), unrecoverable (nothing could be recovered), declined (the customer declined).",
)
@json_option
@click.pass_obj
@requires(
    Role.TECHNICIAN, action="job.close", record=True, subjects={"job": "job_id"}, custody=True
)
def close_command(app: context.AppContext, job_id: str, outcome: str, as_json: bool) -> None:
    """Close a job with its outcome; it takes no more events except the report and the
    destruction record. The workshop's copies (image, mapfile, recovered files) are deleted by
    `job purge` job_copies_days (config, default 30) after close."""
    job_store = _store(app)
    closed = closeout_actions.close(
        job_store,
        job_id,
        outcome=outcome,
        days=_days(app),
        actor=context.actor(),
        host=context.host(),
    )
    _print_job(closed, as_json)
    if not as_json:
        now = closeout_actions.now_or(None)
        click.echo(
            f"copies   {closeout_actions.deletion(job_store, job_id, days=_days(app), now=now)}"
        )


@job.command("report")
@click.argument("job_id", metavar="JOB")
@click.option(
    "--to",
    "to",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    help="Where to write the HTML file (default: JOB-report.html in the job folder); an existing"
    " symlink or non-regular file there is refused.",
)
@json_option
@click.pass_obj
@requires(
    Role.TECHNICIAN, action="job.report", record=True, subjects={"job": "job_id"}, custody=True
)
def report_command(
    app: context.AppContext, job_id: str, to: pathlib.Path | None, as_json: bool
) -> None:
    """Write the customer's report of JOB: one self-contained HTML file (0600) with the job,
    consent, medium, imaging passes and hashes, sector map, recovered files (damaged ones called
    out), when the workshop's copies are deleted, and the custody trail. Recorded in custody;
    exit 3 when the custody chain does not verify (the report says so as well)."""
    written = report_actions.write(
        _store(app),
        job_id,
        to=to,
        kept_days=_days(app),
        now=closeout_actions.now_or(None),
        actor=context.actor(),
        host=context.host(),
    )
    if as_json:
        click.echo(json.dumps(written.to_dict(), indent=2))
    else:
        click.echo(f"{job_id}: report written to {shown(written.path)} (SHA-256 {written.sha256})")
    report_actions.require_verified(written)


@job.command("purge")
@click.option(
    "--as-of",
    "as_of",
    metavar="TIME",
    help="Act as if it were TIME (ISO-8601, UTC when no zone is given); default: now.",
)
@click.option(
    "--dry-run", is_flag=True, help="List what is due and would be deleted; delete nothing."
)
@json_option
@click.pass_obj
@requires(Role.TECHNICIAN, Role.OPERATOR, action="job.purge", record=True, custody=True)
def purge_command(app: context.AppContext, as_of: str | None, dry_run: bool, as_json: bool) -> None:
    """Delete the workshop's copies of every job closed more than job_copies_days ago (run daily
    from a timer): exactly the image, mapfile and scan folders the job's record names, never
    through a symlink; each deletion is a copies.destroyed custody event. Exit 1 when a copy
    could not be deleted (it is tried again on the next run)."""
    results = closeout_actions.purge_due(
        _store(app),
        days=_days(app),
        now=closeout_actions.now_or(as_of),
        dry_run=dry_run,
        actor=context.actor(),
        host=context.host(),
    )
    if as_json:
        click.echo(json.dumps([_purge_dict(result) for result in results], indent=2))
    else:
        _print_purge(results, dry_run)
    sys.exit(closeout_actions.exit_code(results))


def _purge_dict(result: closeout_actions.Purged | closeout_actions.Due) -> dict:
    if isinstance(result, closeout_actions.Purged):
        return result.to_dict()
    return {
        "job_id": result.job_id,
        "due": result.due,
        "would_delete": [{"what": copy.what, "path": str(copy.path)} for copy in result.copies],
    }


def _print_purge(results: list, dry_run: bool) -> None:
    if not results:
        click.echo("nothing due")
    for result in results:
        if isinstance(result, closeout_actions.Due):
            click.echo(f"{result.job_id}  due {result.due}  would delete:")
            for copy in result.copies:
                click.echo(f"  {copy.what:<16} {shown(copy.path)}")
            continue
        click.echo(f"{result.job_id}  due {result.due}  {'done' if result.ok else 'INCOMPLETE'}")
        if result.error:
            click.echo(f"  error: {shown(result.error)}")
        for outcome in result.outcomes:
            size = "" if outcome.size is None else f"  {outcome.size} bytes"
            click.echo(f"  {outcome.what:<16} {shown(outcome.path)}  {shown(outcome.result)}{size}")


commands = [job]
