"""`backupctl schedule install|show|remove|run`: unattended runs through systemd timers or cron."""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import shutil
import sys
from typing import TYPE_CHECKING

import click

from backupctl.actions import schedule as schedule_action
from backupctl.actions import scheduled_run
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, requires
from backupctl.errors import ExitCode, is_expected

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext


def _binary() -> pathlib.Path:
    """The backupctl the units run: this one, by its absolute path."""
    found = shutil.which(sys.argv[0]) or shutil.which("backupctl") or sys.argv[0]
    return pathlib.Path(found).absolute()


@click.group()
def schedule() -> None:
    """Unattended runs: a systemd service and timer per job (or one cron file), made from the
    config: a backup per source at its `schedule`, `rotate` and `job purge` daily, `verify`
    weekly, `check` at operations.check_schedule, `drill` monthly (docs/operations.md)."""


@schedule.command("install")
@click.option("--systemd", "kind", flag_value="systemd", default=True, help="Timers (default).")
@click.option("--cron", "kind", flag_value="cron", help="One file in /etc/cron.d instead.")
@click.option("--dry-run", is_flag=True, help="Print the files; write nothing.")
@click.option(
    "--no-activate",
    is_flag=True,
    help="Write the units but do not run systemctl daemon-reload / enable --now.",
)
@click.pass_obj
@requires(Role.OPERATOR, Role.ADMIN, action="schedule.install", record=True)
def install(app: AppContext, kind: str, dry_run: bool, no_activate: bool) -> None:
    """Write the units (root-only, atomically) into operations.unit_dir, remove backupctl units
    the config no longer needs, and when systemd runs this host reload it and enable the
    timers. With --cron, write operations.cron_file instead."""
    if dry_run:
        plan = schedule_action.plan(app.config(), kind=kind, binary=_binary())
        for name, text in plan.files.items():
            click.echo(f"# {plan.directory / name}")
            click.echo(text)
        for name in plan.stale:
            click.echo(f"# would remove {plan.directory / name}")
        return
    done = schedule_action.install(
        app.config(), kind=kind, binary=_binary(), activate=not no_activate
    )
    for name in done.written:
        click.echo(f"wrote   {done.plan.directory / name}")
    for name in done.removed:
        click.echo(f"removed {done.plan.directory / name}")  # an absolute path stays as it is
    if kind == "systemd" and not done.activated:
        click.echo(
            "not activated: run `systemctl daemon-reload && systemctl enable --now "
            "backupctl-*.timer` where systemd runs"
        )


@schedule.command("show")
@json_option
@click.pass_obj
@requires(Role.OPERATOR, Role.ADMIN, Role.AUDITOR, action="schedule.show")
def show(app: AppContext, as_json: bool) -> None:
    """Each job the config needs: when it runs, when next (local time), whether it is installed
    (systemd or cron) and whether the installed file matches the config.

    Exit code 1 when a job is missing, differs from the config, or a stale unit is installed."""
    now = datetime.datetime.now().astimezone()
    shown = schedule_action.show(app.config(), binary=_binary(), now=now)
    if as_json:
        jobs = [
            {**dataclasses.asdict(job), "next_run": job.next_run.isoformat()} for job in shown.jobs
        ]
        click.echo(json.dumps({"jobs": jobs, "stale": list(shown.stale)}, indent=2))
    else:
        click.echo(f"{'job':<24} {'installed':<10} {'next run':<17} when")
        for job in shown.jobs:
            where = (job.installed or "NO") + ("" if job.matches or not job.installed else "≠")
            click.echo(
                f"{job.name:<24} {where:<10} {job.next_run:%Y-%m-%d %H:%M} {job.when}"
                f"{'' if job.matches or not job.installed else '  (differs from the config)'}"
            )
        for name in shown.stale:
            click.echo(f"stale: {name} (not in the config; `schedule install` removes it)")
    healthy = all(job.installed and job.matches for job in shown.jobs) and not shown.stale
    sys.exit(ExitCode.OK if healthy else ExitCode.PARTIAL)


@schedule.command("remove")
@click.option("--no-activate", is_flag=True, help="Do not run systemctl disable / daemon-reload.")
@click.pass_obj
@requires(Role.OPERATOR, Role.ADMIN, action="schedule.remove", record=True)
def remove(app: AppContext, no_activate: bool) -> None:
    """Disable and remove every backupctl unit and the cron file (only files backupctl wrote)."""
    for path in schedule_action.remove(app.config(), activate=not no_activate):
        click.echo(f"removed {path}")


@schedule.command("run")
@click.argument("job")
@click.pass_obj
@requires(Role.OPERATOR, action="schedule.run", record=True, subjects={"job": "job"})
def run(app: AppContext, job: str) -> None:
    """Run one scheduled JOB (what the units and cron lines call): ping operations.ping_start,
    run the job's command (waiting up to operations.lock_wait_minutes for a source another run
    is working on), ping ping_success or ping_failure, rewrite operations.metrics_file. Exits
    with the job's exit code."""
    config = app.config()
    arguments = scheduled_run.started(config, job)
    code = ExitCode.INTERRUPTED
    try:
        with scheduled_run.patience(config):
            code = _invoke(app.config_path, arguments)
    finally:
        scheduled_run.finished(config, job, int(code))
    sys.exit(code)


def _invoke(config_path: pathlib.Path, arguments: tuple[str, ...]) -> int:
    """Run ``backupctl ARGUMENTS`` in this process (its own role check and audit record
    included); return its exit code as `backupctl` would exit with it."""
    from backupctl.cli import main

    try:
        main.cli.main(
            args=["--config", str(config_path), *arguments],
            standalone_mode=False,
            prog_name="backupctl",
        )
    except SystemExit as leaving:
        return leaving.code if isinstance(leaving.code, int) else int(bool(leaving.code))
    except click.exceptions.Exit as leaving:
        return leaving.exit_code
    except click.ClickException as error:
        error.show()
        return ExitCode.USAGE
    except Exception as error:
        if not is_expected(error):
            raise
        click.echo(f"backupctl: error: {error}", err=True)
        return type(error).exit_code
    return ExitCode.OK


commands = [schedule]
