"""`backupctl disaster-password`: a repository password from the escrow for plain restic."""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys
from typing import TYPE_CHECKING

import click

from backupctl import identity
from backupctl.actions import disaster
from backupctl.cli import passphrase
from backupctl.cli.roles import no_role
from backupctl.errors import BackupctlError

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext

EXISTING_FILE = click.Path(dir_okay=False, exists=True, path_type=pathlib.Path)


@click.command("disaster-password")
@click.argument("source")
@click.option("--escrow", "escrow_file", required=True, type=EXISTING_FILE, help="The escrow file.")
@click.option(
    "--recovery-private-key", required=True, type=EXISTING_FILE, help="The offline recovery key."
)
@click.option("--reason", required=True, help="Why the disaster path is used (recorded).")
@click.option(
    "--out-fd",
    type=click.IntRange(min=0),
    default=None,
    help="Write the password to this inherited file descriptor (default: stdout, never a "
    "terminal).",
)
@click.option(
    "--record",
    "record_file",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    help="Where to record the use when the audit log cannot be written (appended, 0600).",
)
@passphrase.passphrase_fd_option
@click.pass_obj
@no_role("runs where backupctl cannot: needs the offline recovery key; the action records its use")
def disaster_password(
    app: AppContext,
    source: str,
    escrow_file: pathlib.Path,
    recovery_private_key: pathlib.Path,
    reason: str,
    out_fd: int | None,
    record_file: pathlib.Path | None,
    passphrase_fd: int | None,
) -> None:
    """Write SOURCE's repository password, from the escrow, to a pipe for plain restic.

    For when backupctl's restore path cannot run (lost keystore or state, broken host). Needs no
    config; the use is recorded in the audit log, or in --record FILE when the log cannot be
    written (else nothing is given). Example (docs/restore.md):

    \b
      backupctl disaster-password shop --escrow E --recovery-private-key K \\
          --reason "INC-12" --record /root/disaster.jsonl \\
        | restic -r /backup/near/shop --password-file /dev/stdin restore latest --target /x
    """
    out = out_fd if out_fd is not None else sys.stdout.fileno()
    if os.isatty(out):
        raise click.UsageError("refusing to write a password to a terminal; pipe it to restic")
    db = None
    with contextlib.suppress(BackupctlError, OSError):
        db = app.state_db() if app.config_path.exists() else None
    secret = disaster.disaster_password(
        source=source,
        escrow_file=escrow_file,
        private_key_file=recovery_private_key,
        passphrase=passphrase.reader(passphrase_fd, prompt="Recovery key passphrase"),
        reason=reason,
        actor=identity.current(),
        db=db,
        record_file=record_file,
    )
    os.write(out, secret.reveal().encode() + b"\n")


commands = [disaster_password]
