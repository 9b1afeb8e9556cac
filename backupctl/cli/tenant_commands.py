"""`backupctl tenant ...`: customers' lifecycle (docs/tenants.md): offboarding and destruction,
legal holds, suspension."""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import TYPE_CHECKING

import click

from backupctl import identity
from backupctl.actions import tenant as actions
from backupctl.cli import options
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, requires

if TYPE_CHECKING:
    from backupctl.actions.tenant_view import TenantView
    from backupctl.cli.context import AppContext

LOOKERS = (Role.OPERATOR, Role.AUDITOR, Role.ADMIN)


def _date(context: click.Context, parameter: click.Parameter, value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a date, e.g. 2026-12-31") from None


as_of_option = click.option(
    "--as-of",
    "as_of",
    metavar="TIME",
    help="Show the state as of another moment (ISO 8601, UTC unless it says otherwise).",
)
reason_option = click.option(
    "--reason", required=True, help="Why (kept with the change; the audit log keeps its hash)."
)


@click.group("tenant")
def tenant() -> None:
    """Customers (tenants): offboarding, legal holds and suspension (docs/tenants.md)."""


@tenant.command("list")
@as_of_option
@json_option
@click.pass_obj
@requires(*LOOKERS, action="tenant.list")
def list_command(app: AppContext, as_of: str | None, as_json: bool) -> None:
    """Every tenant of the config (and any with a recorded state): state, sources, dates
    (operator, auditor or admin; a role limited to tenants sees those)."""
    views = actions.list_tenants(
        app.config(),
        actor=identity.current(),
        now=options.parse_moment(as_of, param_hint="--as-of"),
    )
    if as_json:
        click.echo(json.dumps({"tenants": [view_dict(view) for view in views]}, indent=2))
        return
    for view in views:
        due = view.standing.destruction_due
        when = f"  destruction due {due:%Y-%m-%d}" if due and view.standing.offboard else ""
        click.echo(f"{view.tenant:<20} {view.state:<28} {','.join(view.sources) or '-'}{when}")


@tenant.command("show")
@click.argument("name")
@as_of_option
@json_option
@click.pass_obj
@requires(*LOOKERS, action="tenant.show")
def show_command(app: AppContext, name: str, as_of: str | None, as_json: bool) -> None:
    """NAME's sources, locations, state and dates: offboarding, cooling and destruction due,
    legal holds, suspension, the destruction record, and what becomes of escrow copies and S3
    noncurrent versions (operator, auditor or admin)."""
    view = actions.show(
        app.config(),
        name,
        actor=identity.current(),
        now=options.parse_moment(as_of, param_hint="--as-of"),
    )
    if as_json:
        click.echo(json.dumps(view_dict(view), indent=2))
        return
    print_view(view)


@tenant.command("offboard")
@click.argument("name")
@click.option("--reason", type=click.Choice(actions.OFFBOARD_REASONS), required=True, help="Why.")
@click.option(
    "--effective", required=True, callback=_date, metavar="DATE", help="From this date on."
)
@click.pass_obj
@requires(Role.ADMIN, action="tenant.offboard")
def offboard_command(app: AppContext, name: str, reason: str, effective: datetime.date) -> None:
    """Offboard NAME (admin): from DATE no new backups of its sources and no restores;
    90 days after DATE `rotate` destroys its repositories at every location and its
    keys. `tenant reinstate` undoes it until destruction begins."""
    print_view(
        actions.offboard(
            app.config(), name, reason=reason, effective=effective, actor=identity.current()
        )
    )


@tenant.command("reinstate")
@click.argument("name")
@reason_option
@click.pass_obj
@requires(Role.ADMIN, action="tenant.reinstate")
def reinstate_command(app: AppContext, name: str, reason: str) -> None:
    """Undo NAME's offboarding during the cooling period (admin)."""
    print_view(actions.reinstate(app.config(), name, reason=reason, actor=identity.current()))


@tenant.command("hold")
@click.argument("name")
@click.option("--reference", required=True, help="The order's reference, e.g. COURT-2026-114.")
@reason_option
@click.pass_obj
@requires(Role.ADMIN, action="tenant.hold")
def hold_command(app: AppContext, name: str, reference: str, reason: str) -> None:
    """Place a legal hold on NAME (admin): rotation and destruction skip everything of it until
    every hold is released."""
    view = actions.hold(
        app.config(), name, reference=reference, reason=reason, actor=identity.current()
    )
    print_view(view)


@tenant.command("release")
@click.argument("name")
@click.option("--reference", required=True, help="The reference of the hold to release.")
@reason_option
@click.pass_obj
@requires(Role.ADMIN, action="tenant.release")
def release_command(app: AppContext, name: str, reference: str, reason: str) -> None:
    """Release NAME's legal hold REFERENCE (admin)."""
    view = actions.release(
        app.config(), name, reference=reference, reason=reason, actor=identity.current()
    )
    print_view(view)


@tenant.command("suspend")
@click.argument("name")
@reason_option
@click.pass_obj
@requires(Role.OPERATOR, Role.ADMIN, action="tenant.suspend")
def suspend_command(app: AppContext, name: str, reason: str) -> None:
    """Suspend NAME (operator or admin): restores are refused, backups go on."""
    print_view(actions.suspend(app.config(), name, reason=reason, actor=identity.current()))


@tenant.command("resume")
@click.argument("name")
@reason_option
@click.pass_obj
@requires(Role.OPERATOR, Role.ADMIN, action="tenant.resume")
def resume_command(app: AppContext, name: str, reason: str) -> None:
    """End NAME's suspension (operator or admin)."""
    print_view(actions.resume(app.config(), name, reason=reason, actor=identity.current()))


def view_dict(view: TenantView) -> dict:
    standing = view.standing
    due = standing.destruction_due
    return {
        "tenant": view.tenant,
        "state": view.state,
        "phase": standing.phase.value,
        "sources": list(view.sources),
        "locations": list(view.locations),
        "in_config": view.in_config,
        "offboarded_at": standing.offboard.at.isoformat() if standing.offboard else None,
        "offboard_reason": standing.offboard.reason if standing.offboard else None,
        "effective": standing.effective.isoformat() if standing.effective else None,
        "destruction_due": due.isoformat() if due else None,
        "holds": [
            {"reference": h.reference, "reason": h.reason, "by": h.actor, "at": h.at.isoformat()}
            for h in standing.holds
        ],
        "suspended_at": standing.suspension.at.isoformat() if standing.suspension else None,
        "destruction": [dataclasses.asdict(entry) for entry in view.destruction],
        "erased_keys": [dataclasses.asdict(key) for key in view.erased_keys],
        "destroyed_at": standing.destroyed.at.isoformat() if standing.destroyed else None,
        "escrow": view.escrow,
        "s3": list(view.s3),
        "history": [
            {
                "change": change.kind.value,
                "by": change.actor,
                "at": change.at.isoformat(),
                "reason": change.reason,
                "reference": change.reference,
                "effective": change.effective.isoformat() if change.effective else None,
                "run": change.run_id,
            }
            for change in standing.history
        ],
    }


def print_view(view: TenantView) -> None:
    data = view_dict(view)
    click.echo(f"tenant {view.tenant}: {view.state}")
    click.echo(f"  sources:   {', '.join(view.sources) or '- (none in the config)'}")
    click.echo(f"  locations: {', '.join(view.locations) or '-'}")
    if data["effective"]:
        click.echo(
            f"  offboarded {data['offboarded_at']} ({data['offboard_reason']}), effective "
            f"{data['effective']}, destruction due {data['destruction_due']}"
        )
    for hold in data["holds"]:
        click.echo(f"  legal hold {hold['reference']} since {hold['at']} by {hold['by']}")
    if data["suspended_at"]:
        click.echo(f"  suspended since {data['suspended_at']}: restores refused")
    for entry in view.destruction:
        if entry.finished_at:
            click.echo(
                f"  destroyed {entry.source} at {entry.location} {entry.finished_at} (run "
                f"{entry.run_id}): {entry.removed} file(s), {entry.bytes} bytes, "
                f"{entry.leftovers} other entries; checked: {entry.checked}"
            )
        else:
            click.echo(
                f"  PENDING {entry.source} at {entry.location} since {entry.started_at} (run "
                f"{entry.run_id}): {entry.remaining}; the next rotate finishes it"
            )
    for key in view.erased_keys:
        click.echo(f"  keystore entry {key.entry} erased {key.erased_at} (run {key.run_id})")
    if data["destroyed_at"]:
        click.echo(f"  destruction complete {data['destroyed_at']}")
    click.echo(f"  escrow: {view.escrow}")
    for line in view.s3:
        click.echo(f"  s3: {line}")
    for change in data["history"]:
        click.echo(f"  {change['at']} {change['change']} by {change['by']}: {change['reason']}")


commands = [tenant]
