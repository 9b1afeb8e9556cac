"""`backupctl backup`: back sources up and copy them to every location."""

from __future__ import annotations

import json
import sys

import click

from backupctl.actions import backup as backup_action
from backupctl.cli import context, progress, report
from backupctl.cli.options import json_option, quiet_option
from backupctl.cli.roles import Role, requires


def _change_ref(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith("change:"):
        raise click.BadParameter("only change:REF tags are supported, e.g. --tag change:CHG-1234")
    return value.removeprefix("change:")


@click.command()
@click.argument("sources", nargs=-1)
@click.option(
    "--tag",
    "tag",
    metavar="change:REF",
    help="Mark this as a backup around a change, with its change reference (clause 8.2).",
)
@json_option
@quiet_option
@click.pass_obj
@requires(Role.OPERATOR, action="backup.run", per_source=True)
def backup(
    app: context.AppContext, sources: tuple[str, ...], tag: str | None, as_json: bool, quiet: bool
) -> None:
    """Back each SOURCE (default: all) up once, then copy it to every other location.

    The backup goes to the first reachable location of the source; every other location then
    receives the new repository files, verified against their SHA-256 names. A location that is
    down is reported and caught up on the next run.

    Only files backupctl saw restic write (the source's manifest) are copied; a file at a location
    that backupctl did not write is reported as foreign and never copied.

    Exit codes: 0 all locations ok, 1 some failed, 2 usage or config error, 3 all failed,
    5 foreign files found, 6 the snapshot holds no files.
    """
    run = backup_action.backup(
        app.config(),
        names=sources,
        change_ref=_change_ref(tag),
        progress=progress.choose(quiet=quiet, as_json=as_json),
        actor=context.actor(),
        host=context.host(),
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "run": run.run_id,
                    "exit_code": int(run.exit_code),
                    "sources": [report.source_dict(entry) for entry in run.sources],
                },
                indent=2,
            )
        )
    elif not quiet or run.exit_code:
        for entry in run.sources:
            snapshot = f" snapshot {entry.snapshot_id[:8]}" if entry.snapshot_id else ""
            click.echo(f"{entry.source}:{snapshot}")
            report.print_source(entry)
    sys.exit(run.exit_code)


commands = [backup]
