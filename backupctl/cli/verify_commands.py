"""`backupctl verify`: check repository files against their names and sizes, repair from copies."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TYPE_CHECKING

import click

from backupctl.actions import verify as verify_action
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, requires

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext


def _report_dict(report: verify_action.VerifyReport) -> dict:
    return {
        "source": report.source,
        "error": report.error,
        "exit_code": int(report.exit_code),
        "checked": report.checked,
        "damaged": len(report.findings),
        "repaired": len(report.repaired),
        "unrepairable": len(report.unrepairable),
        "findings": [dataclasses.asdict(finding) for finding in report.findings],
        "locations": [
            {
                "location": check.location,
                "error": check.error,
                "checked": len(check.checked),
                "checked_paths": list(check.checked),
            }
            for check in report.locations
        ],
    }


@click.command()
@click.argument("sources", nargs=-1)
@click.option("--location", "location", metavar="L", help="Check only this location.")
@click.option(
    "--sample",
    "sample",
    metavar="PCT",
    type=click.FloatRange(0, 100, min_open=True),
    default=100,
    show_default=True,
    help="Check this share of the files; each run continues where the last one stopped.",
)
@json_option
@click.pass_obj
@requires(Role.OPERATOR, action="verify.run", per_source=True)
def verify(
    app: AppContext, sources: tuple[str, ...], location: str | None, sample: float, as_json: bool
) -> None:
    """Read the repository files of each SOURCE (default: all) at every location and check each
    against its SHA-256 name and its size in the manifest; no password is needed. A damaged or
    missing file is replaced (atomically) by a verified copy from another location.

    Exit codes: 0 clean, 5 damage found and repaired, 1 damage that could not be repaired or a
    location not checked, 3 nothing could be checked.
    """
    reports = verify_action.verify(
        app.config(), names=sources, location=location, sample_percent=sample
    )
    if as_json:
        click.echo(json.dumps({"sources": [_report_dict(report) for report in reports]}, indent=2))
    else:
        for report in reports:
            _print(report)
    sys.exit(verify_action.exit_code(reports))


def _print(report: verify_action.VerifyReport) -> None:
    if report.error:
        click.echo(f"{report.source}: FAILED {report.error}")
        return
    click.echo(
        f"{report.source}: {report.checked} checked, {len(report.findings)} damaged, "
        f"{len(report.repaired)} repaired, {len(report.unrepairable)} unrepairable"
    )
    for check in report.locations:
        if check.error:
            click.echo(f"  FAILED {check.location:<16} not checked: {check.error}")
    for finding in report.findings:
        mark = "repaired" if finding.repaired else "DAMAGED "
        click.echo(
            f"  {mark} {finding.location:<16} {finding.path}: {finding.problem}"
            f"{'; ' + finding.detail if finding.detail else ''}"
        )


commands = [verify]
