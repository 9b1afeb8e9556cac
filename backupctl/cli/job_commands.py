"""`backupctl job`: repair jobs with the customer's consent and a chain of custody."""

from __future__ import annotations

import json

import click

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
    """Repair jobs: open with consent, attach the medium, show the custody record, close."""


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


def _print_event(event) -> None:
    details = json.dumps(event.details, sort_keys=True)  # JSON escapes control characters
    click.echo(
        f"  {event.sequence:>3}  {shown(event.at)}  {shown(event.kind):<16} "
        f"{shown(event.actor)}@{shown(event.host)}  {details}"
    )


@job.command("show")
@click.argument("job_id", metavar="JOB")
@json_option
@click.pass_obj
@requires(Role.TECHNICIAN, Role.AUDITOR, action="job.show")
def show_command(app: context.AppContext, job_id: str, as_json: bool) -> None:
    """Show a job, its custody events and whether their hash chain verifies (exit 3 when not)."""
    report = job_actions.report(_store(app), job_id)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_job(report.job, as_json=False)
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
@json_option
@click.pass_obj
@requires(
    Role.TECHNICIAN, action="job.close", record=True, subjects={"job": "job_id"}, custody=True
)
def close_command(app: context.AppContext, job_id: str, as_json: bool) -> None:
    """Close a job; its custody record takes no more events."""
    closed = job_actions.close(_store(app), job_id, actor=context.actor(), host=context.host())
    _print_job(closed, as_json)


commands = [job]
