"""`backupctl status` and `backupctl snapshots`: what each location holds, and what is wrong."""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
from typing import TYPE_CHECKING

import click

from backupctl.actions import status as status_action
from backupctl.cli.options import json_option
from backupctl.cli.report import human_bytes
from backupctl.cli.roles import Role, requires
from backupctl.errors import ExitCode
from backupctl.restic import messages

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext


def _gather(app: AppContext, sources) -> tuple[datetime.datetime, status_action.Status]:
    now = datetime.datetime.now(datetime.UTC)
    return now, status_action.status(app.config(), names=sources, now=now)


def _age(now, moment) -> str:
    if moment is None:
        return "-"
    hours = (now - moment).total_seconds() / 3600
    return f"{hours:.1f}h" if hours < 48 else f"{hours / 24:.1f}d"


def _location_dict(now, location) -> dict:
    return {
        "location": location.name,
        "offsite": location.offsite,
        "reachable": location.reachable,
        "reason": location.reason,
        "count": len(location.snapshot_ids),
        "newest": location.newest.isoformat() if location.newest else None,
        "oldest": location.oldest.isoformat() if location.oldest else None,
        "newest_age_seconds": (now - location.newest).total_seconds() if location.newest else None,
        "oldest_age_seconds": (now - location.oldest).total_seconds() if location.oldest else None,
        "size_bytes": location.size_bytes,
    }


def _retention_dict(retention) -> dict | None:
    return dataclasses.asdict(retention) if retention is not None else None


def _print_retention(retention) -> None:
    oldest = ", ".join(
        f"{age.location} {age.oldest_age_days:.1f}d"
        if age.oldest_age_days is not None
        else f"{age.location} -"
        for age in retention.locations
    )
    click.echo(
        f"  retention {retention.policy}: max {retention.max_age_days}d; oldest: {oldest or '-'}"
    )


def _print_checking(checked) -> None:
    if checked is None:
        return
    for check in checked.checks:
        mark = "ok" if check["ok"] else "FAILED"
        click.echo(
            f"  check {check['location']} {check['finished_at']}: {mark} (subset "
            f"{check['subset'] or '-'})"
        )
    if checked.drill:
        drill = checked.drill
        click.echo(
            f"  drill {drill['finished_at']}: {'ok' if drill['ok'] else 'FAILED'}, "
            f"{drill['files']} file(s), {drill['mismatched']} mismatched"
        )


@click.command()
@click.argument("sources", nargs=-1)
@json_option
@click.pass_obj
@requires(Role.OPERATOR, Role.AUDITOR, action="status.show", per_source=True)
def status(app: AppContext, sources: tuple[str, ...], as_json: bool) -> None:
    """Per SOURCE (default: all) and location: snapshot count, newest and oldest with their ages,
    size, the oldest snapshot against the retention policy's maximum age, and warnings (fewer
    than two healthy locations, none off-site, backup overdue, foreign files at a location,
    damage `verify` could not repair, runs killed before they finished, expired data still held
    at a location, a rotation left unfinished, a failed `check` or restore `drill`), and tenants:
    legal holds, suspensions, offboardings (notes), destruction unfinished at a location that was
    down (a warning).

    Exit code 1 when there is any warning, 0 when all is well.
    """
    now, result = _gather(app, sources)
    statuses = result.sources
    if as_json:
        click.echo(
            json.dumps(
                {
                    "sources": [
                        {
                            "source": s.source,
                            "tenant": s.tenant,
                            "warnings": list(s.warnings),
                            "foreign": [dataclasses.asdict(entry) for entry in s.foreign],
                            "last_verify": s.last_verify,
                            "locations": [_location_dict(now, loc) for loc in s.locations],
                            "retention": _retention_dict(s.retention),
                            "checks": list(s.checking.checks) if s.checking else [],
                            "last_drill": s.checking.drill if s.checking else None,
                        }
                        for s in statuses
                    ],
                    "warnings": list(result.warnings),
                    "tenants": list(result.notes),
                    "killed_runs": list(result.killed_runs),
                },
                indent=2,
            )
        )
    else:
        for entry in statuses:
            click.echo(f"{entry.source} (tenant {entry.tenant})")
            click.echo(
                f"  {'location':<16} {'site':<8} {'count':>5} {'newest':>8} {'oldest':>8} "
                f"{'size':>10}"
            )
            for loc in entry.locations:
                if not loc.reachable:
                    click.echo(f"  {loc.name:<16} UNREACHABLE: {loc.reason}")
                    continue
                site = "offsite" if loc.offsite else "onsite"
                click.echo(
                    f"  {loc.name:<16} {site:<8} {len(loc.snapshot_ids):>5} "
                    f"{_age(now, loc.newest):>8} {_age(now, loc.oldest):>8} "
                    f"{human_bytes(loc.size_bytes):>10}"
                )
            if entry.retention is not None:
                _print_retention(entry.retention)
            if entry.last_verify:
                verified = entry.last_verify
                click.echo(
                    f"  verify {verified['finished_at']}: {verified['checked']} checked, "
                    f"{verified['damaged']} damaged, {verified['repaired']} repaired, "
                    f"{verified['unrepairable']} unrepairable"
                )
            _print_checking(entry.checking)
            for warning in entry.warnings:
                click.echo(f"  warning: {warning}")
        for warning in result.warnings:
            click.echo(f"warning: {warning}")
        for note in result.notes:
            click.echo(f"note: {note}")
    warned = result.warnings or any(s.warnings for s in statuses)
    sys.exit(ExitCode.PARTIAL if warned else ExitCode.OK)


@click.command()
@click.argument("sources", nargs=-1)
@json_option
@click.pass_obj
@requires(Role.OPERATOR, action="snapshots.show", per_source=True)
def snapshots(app: AppContext, sources: tuple[str, ...], as_json: bool) -> None:
    """List the snapshots of each SOURCE (default: all) and which locations hold each."""
    now, result = _gather(app, sources)
    statuses = result.sources
    if as_json:
        click.echo(
            json.dumps(
                {
                    "sources": [
                        {
                            "source": s.source,
                            "snapshots": [
                                {
                                    "id": snap.id,
                                    "time": snap.time,
                                    "tags": list(snap.tags),
                                    "paths": list(snap.paths),
                                    "locations": [
                                        loc.name
                                        for loc in s.locations
                                        if snap.id in loc.snapshot_ids
                                    ],
                                }
                                for snap in s.snapshots
                            ],
                        }
                        for s in statuses
                    ]
                },
                indent=2,
            )
        )
        return
    for entry in statuses:
        click.echo(f"{entry.source}: {len(entry.snapshots)} snapshot(s)")
        for snap in entry.snapshots:
            held = ",".join(loc.name for loc in entry.locations if snap.id in loc.snapshot_ids)
            when = messages.parse_time(snap.time)
            click.echo(
                f"  {snap.short_id}  {when:%Y-%m-%d %H:%M}  {_age(now, when):>7}  "
                f"[{held}]  {','.join(snap.tags)}"
            )


@click.command()
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="How many runs to show, newest first.",
)
@json_option
@click.pass_obj
@requires(Role.OPERATOR, Role.AUDITOR, action="history.show")
def history(app: AppContext, limit: int, as_json: bool) -> None:
    """Show recorded init, backup and rotate runs: who, when, exit code, and every location's
    result; for a rotation also every forget, prune, deletion and check, with snapshot ids and
    file counts.

    A run without an end was killed before it could finish; the next run catches up.
    """
    runs = status_action.history(app.config(), limit=limit)
    if as_json:
        click.echo(json.dumps({"runs": runs}, indent=2))
        return
    for run in runs:
        ended = run["ended_at"] or "never finished"
        click.echo(
            f"run {run['id']} {run['command']} by {run['actor']}@{run['host']} "
            f"{run['started_at']} → {ended} exit {run['exit_code']} "
            f"{' '.join(run['tags'])}".rstrip()
        )
        for result in run["results"]:
            mark = "ok    " if result["ok"] else "FAILED"
            detail = result["snapshot_id"] or result["reason"] or ""
            click.echo(
                f"  {mark} {result['source']:<16} {result['location']:<16} "
                f"{result['step']:<9} {human_bytes(result['bytes_added']):>10} {detail}"
            )
        for event in run.get("rotation", ()):
            ids = ",".join(sid[:8] for sid in event["snapshot_ids"][:5])
            click.echo(
                f"    {'ok    ' if event['ok'] else 'FAILED'} {event['source']:<16} "
                f"{event['location']:<16} {event['step']:<7} {event['files']} file(s) "
                f"{ids} {event['detail']}".rstrip()
            )


commands = [status, snapshots, history]
