"""`backupctl rotate`: forget and prune what a policy no longer keeps, on every location."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

import click
import tqdm

from backupctl.actions import rotate as rotate_action
from backupctl.cli import context, options, progress, report
from backupctl.cli.options import json_option, quiet_option
from backupctl.cli.roles import Role, requires
from backupctl.rotation.progress import NoSteps, PeriodicSteps, StepProgress

if TYPE_CHECKING:
    from backupctl.actions.rotate import RotationRun, SourceRotation

STEP_LOGGER = logging.getLogger("backupctl.progress")


class TqdmSteps:
    """A spinner with the elapsed time and restic's current phase, for forget and prune."""

    def __init__(self) -> None:
        self._bar: tqdm.tqdm | None = None

    def step_started(self, source: str, location: str, step: str) -> None:
        self._bar = tqdm.tqdm(
            desc=f"{source} {step} at {location}",
            bar_format="{desc}: {elapsed} {postfix}",
            file=sys.stderr,
            leave=False,
        )

    def step_line(self, source: str, line: str) -> None:
        if self._bar is not None and line.strip():
            self._bar.set_postfix_str(line.strip()[:60])

    def step_finished(self, source: str, location: str, step: str) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _json_line(event: str, fields: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stderr.flush()


def _log_line(event: str, fields: dict[str, Any]) -> None:
    where = f" at {fields['location']}" if "location" in fields else ""
    what = fields.get("step") or fields.get("restic", "")
    STEP_LOGGER.info("progress: %s: %s %s%s", fields["source"], event, what, where)


def choose_steps(*, quiet: bool, as_json: bool) -> StepProgress:
    """Return nothing when quiet, JSON lines with --json, a spinner on a terminal, else log
    lines."""
    if quiet:
        return NoSteps()
    if as_json:
        return PeriodicSteps(_json_line)
    if sys.stderr.isatty():
        return TqdmSteps()
    STEP_LOGGER.setLevel(logging.INFO)
    return PeriodicSteps(_log_line)


@click.command()
@click.argument("sources", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Only print the plan: what goes, what stays, why.")
@click.option(
    "--as-of",
    "as_of",
    metavar="TIME",
    help="Plan as of another moment (ISO 8601, UTC unless it says otherwise), e.g. to see what "
    "next month's rotation destroys. Only with --dry-run.",
)
@json_option
@quiet_option
@click.pass_obj
@requires(Role.OPERATOR, action="rotate.run", per_source=True)
def rotate(
    app: context.AppContext,
    sources: tuple[str, ...],
    dry_run: bool,
    as_of: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Forget and prune the snapshots of each SOURCE (default: all) that its retention policy no
    longer keeps, at every location.

    A snapshot's age counts from the older of restic's time and the time backupctl took or first
    saw it. Nothing older than the policy's maximum age is kept (unless held); within it the
    keep rules choose, and the newest snapshot always stays. Snapshots backupctl did not take
    fall under the same maximum age.

    restic forgets and prunes at the first reachable location; every other location then
    deletes the same files and receives the new ones. Afterwards every location is listed
    again: one that still holds a forgotten snapshot fails, and one that was down is reported
    as still holding expired data until a later run finishes there. An interrupted rotation
    is finished by the next run.

    Customers (docs/tenants.md): a source whose tenant is under legal hold keeps every snapshot;
    a source whose tenant's 90-day cooling period is over is destroyed instead, at every
    location, with its keystore entry, and every location is listed again to check nothing is
    left; a location that is down is finished by a later run.

    Exit codes: 0 done everywhere, 1 some locations failed or still hold expired data, 2 usage
    or config error, 3 failed everywhere, 5 foreign files found.
    """
    moment = options.parse_moment(as_of, param_hint="--as-of")
    if moment is not None and not dry_run:
        raise click.UsageError("--as-of only plans: use it with --dry-run")
    run = rotate_action.rotate(
        app.config(),
        names=sources,
        dry_run=dry_run,
        as_of=moment,
        progress=progress.choose(quiet=quiet, as_json=as_json),
        steps=choose_steps(quiet=quiet, as_json=as_json),
        actor=context.actor(),
        host=context.host(),
    )
    if as_json:
        click.echo(json.dumps(run_dict(run), indent=2))
    elif not quiet or run.exit_code:
        for entry in run.sources:
            _print_source(entry, dry_run=run.dry_run)
    sys.exit(run.exit_code)


def run_dict(run: RotationRun) -> dict:
    return {
        "run": run.run_id,
        "dry_run": run.dry_run,
        "as_of": run.as_of.isoformat(),
        "exit_code": int(run.exit_code),
        "sources": [_source_dict(entry) for entry in run.sources],
    }


def _source_dict(entry: SourceRotation) -> dict:
    policy = entry.policy
    return {
        **report.source_dict(entry.report),
        "policy": {"name": policy.name, "max_age_days": policy.max_age_days, **policy.rules()},
        "cut_days": entry.plan.cut_days if entry.plan else None,
        "resumed": entry.resumed,
        "still_held": dict(entry.still_held),
        "snapshots": [
            {
                "id": verdict.snapshot_id,
                "group": verdict.group,
                "time": entry.times.get(verdict.snapshot_id),
                "age_days": round(verdict.age_days, 3),
                "keep": verdict.keep,
                "reasons": list(verdict.reasons),
                "future": verdict.future,
                "held": verdict.held,
                "locations": list(entry.holders.get(verdict.snapshot_id, ())),
            }
            for verdict in (entry.plan.verdicts if entry.plan else ())
        ],
    }


def _print_source(entry: SourceRotation, *, dry_run: bool) -> None:
    policy = entry.policy
    rules = ", ".join(f"{name[5:]} {count}" for name, count in policy.rules().items() if count)
    click.echo(f"{entry.source}: policy {policy.name}, max {policy.max_age_days} days ({rules})")
    if entry.plan is not None:
        going = "would forget" if dry_run else "forget"
        for verdict in entry.plan.verdicts:
            if verdict.keep and not dry_run:
                continue
            where = ",".join(entry.holders.get(verdict.snapshot_id, ()))
            click.echo(
                f"  {'keep' if verdict.keep else going:<12} {verdict.snapshot_id[:8]} "
                f"{verdict.age_days:7.1f}d [{where}] {'; '.join(verdict.reasons)}"
            )
        if not dry_run:
            click.echo(f"  kept {len(entry.plan.keep)} snapshot(s)")
    report.print_source(entry.report)


commands = [rotate]
