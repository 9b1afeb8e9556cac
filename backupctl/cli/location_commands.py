"""`backupctl location provision|audit|set-credentials NAME`: the storage behind a location."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TYPE_CHECKING

import click

from backupctl.actions import location as location_action
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, requires
from backupctl.errors import ExitCode
from backupctl.keys.secret import Secret

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext


@click.group()
def location() -> None:
    """Provision and audit storage locations (S3 buckets)."""


@location.command("set-credentials")
@click.argument("name")
@click.pass_obj
@requires(Role.ADMIN, action="location.set_credentials", record=True, subjects={"location": "name"})
def set_credentials(app: AppContext, name: str) -> None:
    """Store the S3 access key of location NAME in the keystore.

    Reads two lines from stdin (access key id, then secret access key) or prompts on a TTY;
    never from the command line, so the secret stays out of argv and shell history.
    """
    config = app.config()
    location_action.s3_location(config, name)
    if sys.stdin.isatty():
        key_id = click.prompt("Access key id")
        secret = click.prompt("Secret access key", hide_input=True)
    else:
        key_id, secret = (sys.stdin.readline().strip() for _ in range(2))
    if not key_id or not secret:
        raise click.UsageError("expected the access key id and the secret access key on stdin")
    location_action.set_credentials(config, name, key_id, Secret(secret))
    click.echo(f"credentials of location {name} stored in {config.keystore_path}")


@location.command()
@click.argument("name")
@json_option
@click.pass_obj
@requires(
    Role.OPERATOR,
    Role.ADMIN,
    action="location.provision",
    record=True,
    subjects={"location": "name"},
)
def provision(app: AppContext, name: str, as_json: bool) -> None:
    """Create the bucket of S3 location NAME in its declared region, with public access blocked,
    default encryption, versioning (noncurrent versions expire) — idempotent, then audit it."""
    config = app.config()
    findings = location_action.provision(config, name)
    report = location_action.audit(config, name)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "findings": [dataclasses.asdict(f) for f in findings],
                    "audit": _audit_dict(report),
                },
                indent=2,
            )
        )
    else:
        for finding in findings:
            click.echo(
                f"  {'changed' if finding.changed else 'ok     '} {finding.setting}: "
                f"{finding.detail}"
            )
        _print_audit(report)
    sys.exit(ExitCode.OK if report.ok else ExitCode.FAILED)


@location.command()
@click.argument("name")
@json_option
@click.pass_obj
@requires(Role.OPERATOR, Role.AUDITOR, action="location.audit")
def audit(app: AppContext, name: str, as_json: bool) -> None:
    """Report every safety setting of S3 location NAME and its region; exit 3 when the bucket is
    public, out of its region, unencrypted or unversioned."""
    config = app.config()
    report = location_action.audit(config, name)
    if as_json:
        click.echo(json.dumps(_audit_dict(report), indent=2))
    else:
        _print_audit(report)
    sys.exit(ExitCode.OK if report.ok else ExitCode.FAILED)


def _audit_dict(report) -> dict:
    return {
        "location": report.location,
        "bucket": report.bucket,
        "ok": report.ok,
        "checks": [dataclasses.asdict(check) for check in report.checks],
    }


def _print_audit(report) -> None:
    click.echo(
        f"audit of {report.location} (bucket {report.bucket}): {'ok' if report.ok else 'FAILED'}"
    )
    for check in report.checks:
        click.echo(f"  {'ok    ' if check.ok else 'FAILED'} {check.setting}: {check.reason}")


commands = [location]
