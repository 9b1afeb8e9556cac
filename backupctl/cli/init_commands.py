"""`backupctl init`: a repository and a password for every source, at every location."""

from __future__ import annotations

import json
import sys

import click

from backupctl.keys import access as keyaccess
from backupctl.actions import backup as backup_action
from backupctl.actions import init as init_action
from backupctl.cli import context, progress, report
from backupctl.cli.options import json_option, quiet_option
from backupctl.restic import operations


@click.command()
@click.argument("sources", nargs=-1)
@json_option
@quiet_option
@click.pass_obj
def init(app, sources: tuple[str, ...], as_json: bool, quiet: bool) -> None:
    """Prepare every location of each SOURCE (default: all).

    Creates the keystore if it does not exist yet, one random password per source, the
    repository with restic at the first reachable location and a verified copy at the others.
    Safe to run again: only what is missing is created or copied.
    """
    config = app.config()
    keystore = keyaccess.open_keystore(config, create=True)
    restic = operations.detect(config.restic_binary, config.restic_cache_dir)
    chosen = backup_action.select_sources(config, sources)
    reports = init_action.run_init(config, keystore, restic, sources=chosen,
                                   progress=progress.choose(quiet=quiet, as_json=as_json),
                                   actor=context.actor(), host=context.host())
    results = [result for entry in reports for result in entry.results]
    if as_json:
        click.echo(json.dumps({"sources": [
            {"source": entry.source, "created_at": entry.created_at,
             "locations": [report.result_dict(r) for r in entry.results]} for entry in reports
        ]}, indent=2))
    else:
        for entry in reports:
            created = f" (repository created at {entry.created_at})" if entry.created_at else ""
            click.echo(f"{entry.source}{created}")
            report.print_results(entry.results)
    sys.exit(report.exit_code(results))


commands = [init]
