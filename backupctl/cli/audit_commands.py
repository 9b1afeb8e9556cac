"""`backupctl audit verify|show|export|alerts`: the tamper-evident audit log (docs/audit.md)."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from backupctl.actions import audit as audit_action
from backupctl.cli import context
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, requires
from backupctl.cli.text import shown


def _filter_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        (
            click.option(
                "--since", metavar="WHEN", help="From this ISO date/time (UTC) or age (7d, 12h)."
            ),
            click.option("--actor", metavar="ACCOUNT", help="Only records by this staff account."),
            click.option(
                "--action",
                metavar="ACTION",
                help="Only this action, or every one under it (restore).",
            ),
            click.option("--tenant", metavar="TENANT", help="Only records about this tenant."),
        )
    ):
        function = option(function)
    return function


def _filters(
    since: str | None, actor: str | None, action: str | None, tenant: str | None
) -> audit_action.Filters:
    return audit_action.Filters(audit_action.since(since), actor, action, tenant)


@click.group()
def audit() -> None:
    """The audit log of every action: verify it, show it, export it, list alerts."""


@audit.command("verify")
@json_option
@click.pass_obj
@requires(Role.AUDITOR, action="audit.verify")
def verify_command(app: context.AppContext, as_json: bool) -> None:
    """Check every record's number, link and hash, and the log against its signed checkpoints and
    the checkpoint anchored at every location; name the record where it breaks.

    Exit codes: 0 intact and every anchor agrees, 1 intact but an anchor could not be read,
    3 a record changed, removed, inserted or reordered, the log truncated or replaced.
    """
    result = audit_action.verify(app.config(), host=context.host(), actor=context.actor())
    if as_json:
        click.echo(
            json.dumps(
                {
                    "records": result.records,
                    "head": result.head,
                    "intact": not result.problems,
                    "problems": [dataclasses.asdict(problem) for problem in result.problems],
                    "local_checkpoints": result.local_checkpoints,
                    "anchors": [dataclasses.asdict(check) for check in result.anchors],
                    "exit_code": int(result.exit_code),
                },
                indent=2,
            )
        )
    else:
        verdict = "intact" if not result.problems else "TAMPERED"
        click.echo(f"audit log: {result.records} records, head {result.head[:16]}: {verdict}")
        click.echo(f"  {result.local_checkpoints} signed checkpoint(s) on this host")
        for check in result.anchors:
            if check.error:
                click.echo(f"  anchor {check.location:<16} not read: {shown(check.error)}")
            else:
                click.echo(
                    f"  anchor {check.location:<16} covers {check.tree_size} records ({check.at})"
                )
        for problem in result.problems:
            click.echo(f"  {problem.kind.upper()}: {problem.text}")
    sys.exit(result.exit_code)


@audit.command("show")
@_filter_options
@json_option
@click.pass_obj
@requires(Role.AUDITOR, action="audit.show")
def show_command(
    app: context.AppContext,
    since: str | None,
    actor: str | None,
    action: str | None,
    tenant: str | None,
    as_json: bool,
) -> None:
    """Show the records: time, actor, action, outcome, subjects (ids) and details."""
    records = audit_action.show(app.config(), _filters(since, actor, action, tenant))
    if as_json:
        click.echo(json.dumps([audit_action.as_dict(r) for r in records], indent=2))
        return
    for record in records:
        subjects = " ".join(f"{key}={value}" for key, value in sorted(record.subjects.items()))
        details = json.dumps(dict(record.details), sort_keys=True)
        click.echo(
            f"{record.seq:>6}  {record.at[:19]}  {shown(record.actor):<16} "
            f"{shown(record.action):<22} {record.outcome:<8} {shown(subjects)}  {shown(details)}"
        )


@audit.command("export")
@_filter_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON lines (every field) or CSV (subjects and details as JSON).",
)
@click.pass_obj
@requires(Role.AUDITOR, action="audit.export", record=True)
def export_command(
    app: context.AppContext,
    since: str | None,
    actor: str | None,
    action: str | None,
    tenant: str | None,
    fmt: str,
) -> None:
    """Write the records to stdout for the data protection officer; the export is recorded."""
    for line in audit_action.export_lines(
        app.config(), _filters(since, actor, action, tenant), fmt=fmt
    ):
        click.echo(line, nl=False)


@audit.command("alerts")
@_filter_options
@click.option(
    "--office-hours",
    default="7-19",
    show_default=True,
    metavar="H-H",
    help="Office hours in UTC, weekdays; restores outside them are listed.",
)
@click.option(
    "--burst",
    default=5,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="List a person making more restores than this within 24 hours.",
)
@json_option
@click.pass_obj
@requires(Role.AUDITOR, action="audit.alerts")
def alerts_command(
    app: context.AppContext,
    since: str | None,
    actor: str | None,
    action: str | None,
    tenant: str | None,
    office_hours: str,
    burst: int,
    as_json: bool,
) -> None:
    """List suspicious patterns: refusals, denied or expired restore requests, break-glass
    restores, restores outside office hours, many restores by one person, foreign files at a
    location, failed backups and checks. Exit code 5 when there is any."""
    start, _, end = office_hours.partition("-")
    if not (start.isdigit() and end.isdigit() and 0 <= int(start) < int(end) <= 24):
        raise click.BadParameter("expected two hours like 7-19", param_hint="--office-hours")
    rules = audit_action.Rules(office_start=int(start), office_end=int(end), burst=burst)
    found = audit_action.alerts(app.config(), _filters(since, actor, action, tenant), rules)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(alert) for alert in found], indent=2))
    else:
        for alert in found:
            click.echo(
                f"{alert.seq:>6}  {alert.at[:19]}  {alert.kind:<14} {shown(alert.actor):<16} "
                f"{shown(alert.text)}"
            )
        if not found:
            click.echo("no alerts")
    sys.exit(5 if found else 0)


@audit.command("prove")
@click.option("--record", "seq", type=click.IntRange(min=1), help="Prove record N is in the log.")
@click.option(
    "--from-size",
    "old_size",
    type=click.IntRange(min=1),
    help="Prove the log of SIZE records (an earlier checkpoint) is a prefix of today's.",
)
@click.pass_obj
@requires(Role.AUDITOR, action="audit.prove")
def prove_command(app: context.AppContext, seq: int | None, old_size: int | None) -> None:
    """Print, as JSON, a Merkle proof against the newest signed checkpoint: an inclusion proof
    for record N (--record) or a consistency proof from an earlier size (--from-size). Whoever
    holds the checkpoint can check it with RFC 9162's algorithms, without the log; the leaf is
    SHA-256(0x00 || the record's hash)."""
    if (seq is None) == (old_size is None):
        raise click.UsageError("give exactly one of --record and --from-size")
    proof = audit_action.prove(app.config(), seq=seq, old_size=old_size)
    body = dataclasses.asdict(proof)
    body["checkpoint"] = dataclasses.asdict(proof.checkpoint)
    click.echo(json.dumps(body, indent=2))


commands = [audit]
