"""`backupctl check` (restic check, a rotating share of the data read) and `backupctl drill`
(a sampled restore test)."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TYPE_CHECKING

import click

from backupctl.actions import check as check_action
from backupctl.actions import drill as drill_action
from backupctl.cli.options import json_option
from backupctl.cli.report import human_bytes
from backupctl.cli.roles import Role, requires

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext


class Percent(click.ParamType):
    name = "N%"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """Given "25%" or "25", return 25.0; fail (usage error) outside (0, 100]."""
        text = str(value).strip().removesuffix("%")
        try:
            number = float(text)
        except ValueError:
            self.fail(f"{value!r} is not a percentage like 25%", param, ctx)
        if not 0 < number <= 100:
            self.fail(f"{value!r}: a percentage above 0 and at most 100", param, ctx)
        return number


@click.command()
@click.argument("sources", nargs=-1)
@click.option(
    "--read-data-subset",
    "percent",
    type=Percent(),
    help="Read this share of the data (e.g. 25%: four runs read it all); each run reads the "
    "next part. Default: as much as reads everything within operations.check_read_days.",
)
@json_option
@click.pass_obj
@requires(Role.OPERATOR, action="check.run", per_source=True)
def check(app: AppContext, sources: tuple[str, ...], percent: float | None, as_json: bool) -> None:
    """Run `restic check` on the repository of each SOURCE (default: all) at every location,
    reading one part of the data (--read-data-subset n/t, the next part each run). Results go
    to `status`, the metrics and the audit log.

    Exit codes: 0 every location sound, 1 some location failed, 3 nothing could be checked.
    """
    reports = check_action.check(app.config(), names=sources, percent=percent)
    if as_json:
        click.echo(json.dumps({"sources": [dataclasses.asdict(r) for r in reports]}, indent=2))
    else:
        for report in reports:
            if report.error:
                click.echo(f"{report.source}: FAILED {report.error}")
            for location in report.locations:
                mark = "ok    " if location.ok else "FAILED"
                click.echo(
                    f"{report.source}: {mark} {location.location:<16} subset "
                    f"{location.subset or '-':<7} {location.reason}".rstrip()
                )
    sys.exit(check_action.exit_code(reports))


@click.command()
@click.argument("sources", nargs=-1)
@json_option
@click.pass_obj
@requires(Role.OPERATOR, action="drill.run", per_source=True)
def drill(app: AppContext, sources: tuple[str, ...], as_json: bool) -> None:
    """Restore test: restore a random sample of files (operations.drill_files, at most
    operations.drill_max_bytes) from the newest snapshot of each SOURCE (default: all) into a
    private scratch directory, have restic verify them, read them again from a second location
    and compare SHA-256 and sizes; then remove the scratch copy, also on failure or interrupt.
    Recorded like a restore (audit log: ids and counts, never file names).

    Exit codes: 0 every file matched, 1 some source failed, 3 every source failed.
    """
    reports = drill_action.drill(app.config(), names=sources)
    if as_json:
        click.echo(json.dumps({"sources": [dataclasses.asdict(r) for r in reports]}, indent=2))
    else:
        for report in reports:
            if not report.ok:
                click.echo(f"{report.source}: FAILED {report.reason}")
                continue
            click.echo(
                f"{report.source}: ok {report.files} file(s), {human_bytes(report.bytes)} from "
                f"{report.snapshot_id[:8]} at {report.restored_from}, compared with "
                f"{report.compared_with}"
            )
    sys.exit(drill_action.exit_code(reports))


commands = [check, drill]
