"""`backupctl metrics`: the Prometheus textfile for node_exporter."""

from __future__ import annotations

import datetime
import pathlib
from typing import TYPE_CHECKING

import click

from backupctl.actions import metrics as metrics_action
from backupctl.cli.roles import Role, requires

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext


@click.command()
@click.option(
    "--output",
    metavar="PATH",
    help="Write here ('-': stdout). Default: operations.metrics_file, else stdout.",
)
@click.pass_obj
@requires(Role.OPERATOR, Role.AUDITOR, action="metrics.write")
def metrics(app: AppContext, output: str | None) -> None:
    """Ask every location of every source (as `status` does) and write the Prometheus textfile
    atomically: per source and location the last success, age of the newest and oldest
    snapshot, size, last result, foreign files, rotation pending, check and drill results.
    Ids, counts, sizes and times only; never a file name. `schedule run` rewrites it after
    every scheduled job when operations.metrics_file is set."""
    config = app.config()
    target = output or (str(config.operations.metrics_file or "") or "-")
    if target == "-":
        now = datetime.datetime.now(datetime.UTC)
        click.echo(metrics_action.text(config, now=now), nl=False)
        return
    metrics_action.write(config, pathlib.Path(target))


commands = [metrics]
