"""`backupctl config validate`: check the configuration and say what it declares."""

from __future__ import annotations

import json

import click

from backupctl.cli import context
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, requires


@click.group()
def config() -> None:
    """Inspect the configuration file."""


@config.command()
@json_option
@click.pass_obj
@requires(Role.OPERATOR, Role.ADMIN, Role.AUDITOR, action="config.validate", record=True)
def validate(app: context.AppContext, as_json: bool) -> None:
    """Validate the config; every problem is listed with its key path (exit 2 when any)."""
    loaded = app.config()
    summary = {
        "config": str(loaded.path),
        "ok": True,
        "locations": {
            name: {"kind": loc.kind, "country": loc.country, "offsite": loc.offsite}
            for name, loc in loaded.locations.items()
        },
        "sources": {
            name: {
                "tenant": src.tenant,
                "locations": list(src.locations),
                "retention": src.retention,
            }
            for name, src in loaded.sources.items()
        },
        "access": {
            "single_operator": loaded.access.single_operator,
            "grants": len(loaded.access.grants),
        },
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{loaded.path}: ok — {len(loaded.locations)} location(s), {len(loaded.sources)} source(s)"
    )
    for name, source in loaded.sources.items():
        click.echo(f"  {name} (tenant {source.tenant}) → {', '.join(source.locations)}")
    if loaded.access.single_operator:
        click.echo(
            "  access: single-operator (no [access] table): whoever runs backupctl as root holds"
            " every role (docs/access.md)"
        )
    else:
        click.echo(f"  access: {len(loaded.access.grants)} grant(s) (docs/access.md)")


commands = [config]
