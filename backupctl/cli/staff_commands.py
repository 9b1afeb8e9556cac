"""`backupctl staff ...`: personal signing keys of staff (docs/restore.md)."""

from __future__ import annotations

import json
import pathlib
from typing import TYPE_CHECKING

import click

from backupctl import identity
from backupctl.actions import staff as actions
from backupctl.cli import passphrase
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, no_role, requires

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext


@click.group("staff")
def staff() -> None:
    """Staff signing keys: restore requests and approvals are signed with them."""


@staff.command("enroll")
@passphrase.key_option
@passphrase.passphrase_fd_option
@click.pass_obj
@no_role("a staff member writes their own signing key; useless until an admin registers it")
def enroll_command(
    app: AppContext, key_file: pathlib.Path | None, passphrase_fd: int | None
) -> None:
    """Make your personal Ed25519 signing key, encrypted with your passphrase (Argon2id).

    Run it as yourself (through sudo): the private key is written to
    ~/.config/backupctl/signing-key of your account, mode 0600, owned by you. Give the public
    line it prints to an admin, who registers it with `backupctl staff register`. The passphrase
    needs at least 12 characters, 8 different ones and about 64 bits.
    """
    result = actions.enroll(
        app.config(),
        actor=identity.current(),
        key_file=key_file,
        passphrase=passphrase.reader(passphrase_fd, prompt="New passphrase", confirm=True),
    )
    click.echo(result.public_line, nl=False)
    click.echo(f"wrote {result.key_file} (fingerprint {result.fingerprint})", err=True)


@staff.command("register")
@click.argument("account")
@click.argument(
    "public_key_file", type=click.Path(dir_okay=False, exists=True, path_type=pathlib.Path)
)
@click.pass_obj
@requires(Role.ADMIN, action="staff.register")
def register_command(app: AppContext, account: str, public_key_file: pathlib.Path) -> None:
    """Register ACCOUNT's public signing key from PUBLIC_KEY_FILE (admin); its previous key is
    revoked."""
    key = actions.register(
        app.config(), actor=identity.current(), account=account, public_key_file=public_key_file
    )
    click.echo(f"registered {key.fingerprint} for {key.account}")


@staff.command("list")
@json_option
@click.pass_obj
@requires(Role.ADMIN, Role.AUDITOR, action="staff.list")
def list_command(app: AppContext, as_json: bool) -> None:
    """List registered signing keys, revoked ones included (admin or auditor)."""
    keys = actions.list_keys(app.config(), actor=identity.current())
    rows = [
        {
            "account": key.account,
            "fingerprint": key.fingerprint,
            "registered_at": key.registered_at,
            "registered_by": key.registered_by,
            "revoked_at": key.revoked_at,
            "revoke_reason": key.revoke_reason,
        }
        for key in keys
    ]
    if as_json:
        click.echo(json.dumps({"keys": rows}, indent=2))
        return
    for row in rows:
        state = (
            f"revoked {row['revoked_at']} ({row['revoke_reason']})"
            if row["revoked_at"]
            else "active"
        )
        click.echo(f"{row['account']:<16} {row['fingerprint']}  {state}")


@staff.command("revoke")
@click.argument("account")
@click.option("--reason", required=True, help="Why (left in the audit log).")
@click.pass_obj
@requires(Role.ADMIN, action="staff.revoke")
def revoke_command(app: AppContext, account: str, reason: str) -> None:
    """Revoke ACCOUNT's signing key (admin): its signatures no longer count, also on requests
    and approvals not yet run."""
    revoked = actions.revoke(app.config(), actor=identity.current(), account=account, reason=reason)
    click.echo(f"revoked {', '.join(revoked)} of {account}")


commands = [staff]
