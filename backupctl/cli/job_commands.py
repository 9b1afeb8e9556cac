"""`backupctl job`: repair jobs with the customer's consent and a chain of custody."""

from __future__ import annotations

import json

import click

from backupctl.actions import jobs as job_actions
from backupctl.cli import context
from backupctl.cli.options import json_option
from recovery import custody, errors
from recovery.devices import describe_size
from recovery.jobs import Job, JobStore


def _store(app: context.AppContext) -> JobStore:
    return job_actions.store(state_dir=app.state_dir(), state_db=app.state_db())


def _medium_text(job: Job) -> str:
    medium = job.medium
    if medium is None:
        return "none attached (backupctl job attach, or media watch --attach-to)"
    return (
        f"{medium.node}  {medium.kind}  {medium.model or '-'}  serial {medium.serial or '-'}  "
        f"{describe_size(medium.size_bytes)}  sectors {medium.logical_sector_size}/{medium.physical_sector_size}"
    )


def _print_job(job: Job, as_json: bool) -> None:
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
            click.echo(f"{label:<8} {value}")
    click.echo(f"medium   {_medium_text(job)}")
    click.echo(f"folder   {job.folder}")


@click.group()
def job() -> None:
    """Repair jobs: open with consent, attach the medium, show the custody record, close."""


@job.command("open")
@click.option("--customer", required=True, help="The customer's name or number.")
@click.option(
    "--consent",
    "consent_ref",
    required=True,
    help="Reference of the customer's signed consent to handle their data (form or e-mail id).",
)
@click.option("--ticket", help="The support ticket this job belongs to.")
@click.option("--note", help="Free text: what the customer reported, the medium's condition.")
@json_option
@click.pass_obj
def open_command(
    app: context.AppContext,
    customer: str,
    consent_ref: str,
    ticket: str | None,
    note: str | None,
    as_json: bool,
) -> None:
    """Open a repair job for a customer's medium; prints the new job id."""
    opened = _store(app).open_job(
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


@job.command("show")
@click.argument("job_id", metavar="JOB")
@json_option
@click.pass_obj
def show_command(app: context.AppContext, job_id: str, as_json: bool) -> None:
    """Show a job, its custody events and whether their hash chain verifies (exit 3 when not)."""
    report = job_actions.report(_store(app), job_id)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_job(report.job, as_json=False)
        click.echo("custody")
        for event in report.events:
            details = json.dumps(event.details, sort_keys=True)
            click.echo(
                f"  {event.sequence:>3}  {event.at}  {event.kind:<16} {event.actor}@{event.host}  {details}"
            )
        click.echo(f"chain    {'verifies' if report.verifies else 'BROKEN'}: {report.explanation}")
    if not report.verifies:
        raise errors.CustodyBrokenError(
            f"custody chain of job {job_id} does not verify: {report.explanation}"
        )


@job.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only jobs that are still open.")
@json_option
@click.pass_obj
def list_command(app: context.AppContext, open_only: bool, as_json: bool) -> None:
    """List repair jobs, oldest first."""
    found = _store(app).list(open_only=open_only)
    if as_json:
        click.echo(json.dumps([item.to_dict() for item in found], indent=2))
        return
    if not found:
        click.echo("no jobs")
    for item in found:
        medium = f"{item.medium.node} {item.medium.serial or '-'}" if item.medium else "no medium"
        click.echo(
            f"{item.job_id}  {item.status:<6}  {item.opened_at}  {item.customer}  {item.ticket or '-'}  {medium}"
        )


@job.command("note")
@click.argument("job_id", metavar="JOB")
@click.argument("text")
@click.pass_obj
def note_command(app: context.AppContext, job_id: str, text: str) -> None:
    """Add a note to the job's custody record (what was seen, what the customer said)."""
    event = _store(app).record_event(
        job_id,
        kind=custody.NOTE_ADDED,
        actor=context.actor(),
        host=context.host(),
        details={"text": text},
    )
    click.echo(f"{job_id}: event {event.sequence} recorded")


@job.command("close")
@click.argument("job_id", metavar="JOB")
@json_option
@click.pass_obj
def close_command(app: context.AppContext, job_id: str, as_json: bool) -> None:
    """Close a job; its custody record takes no more events."""
    _print_job(_store(app).close(job_id, actor=context.actor(), host=context.host()), as_json)


commands = [job]
