"""`backupctl init`: a repository and a password for every source, at every location."""

from __future__ import annotations

import json
import sys

import click

from backupctl.actions import init as init_action
from backupctl.cli import context, progress, report
from backupctl.cli.options import json_option, quiet_option
from backupctl.cli.roles import Role, requires


@click.command()
@click.argument("sources", nargs=-1)
@json_option
@quiet_option
@click.pass_obj
@requires(Role.OPERATOR, action="init.run", per_source=True)
def init(app: context.AppContext, sources: tuple[str, ...], as_json: bool, quiet: bool) -> None:
    """Prepare every location of each SOURCE (default: all).

    Creates the keystore if it does not exist yet, one random password per source, the
    repository with restic at the first reachable location and a verified copy at the others.
    Safe to run again: only what is missing is created or copied. A location that already holds
    a repository the keystore cannot open is never touched (see `backupctl keys recover`).
    """
    run = init_action.init(
        app.config(),
        names=sources,
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
    else:
        for entry in run.sources:
            created = f" (repository created at {entry.created_at})" if entry.created_at else ""
            click.echo(f"{entry.source}{created}")
            report.print_source(entry)
    sys.exit(run.exit_code)


commands = [init]
