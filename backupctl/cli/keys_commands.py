"""`backupctl keys ...`: the encrypted keystore, its master secret, the escrow and recovery."""

from __future__ import annotations

import json
import pathlib
import sys
from typing import TYPE_CHECKING

import click

from backupctl.actions import keys as actions
from backupctl.cli.options import json_option
from backupctl.cli.roles import Role, no_role, requires
from backupctl.keys.secret import Secret

if TYPE_CHECKING:
    from backupctl.cli.context import AppContext

FILE = click.Path(dir_okay=False, path_type=pathlib.Path)
EXISTING_FILE = click.Path(dir_okay=False, exists=True, path_type=pathlib.Path)
passphrase_stdin_option = click.option(
    "--passphrase-stdin",
    is_flag=True,
    help="Read the recovery key's passphrase from the first line of stdin instead of a prompt.",
)


def _passphrase(from_stdin: bool, *, confirm: bool) -> Secret:
    """Read a passphrase from stdin's first line or a hidden prompt; never from argv."""
    if from_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
    else:
        text = click.prompt(
            "Recovery key passphrase", hide_input=True, confirmation_prompt=confirm, err=True
        )
    if not text:
        raise click.UsageError("the passphrase is empty")
    return Secret(text)


def _emit(as_json: bool, data: dict, text: str) -> None:
    click.echo(json.dumps(data, sort_keys=True) if as_json else text)


@click.group("keys")
def keys() -> None:
    """The encrypted keystore of repository passwords and credentials (docs/keystore.md)."""


@keys.command("init")
@json_option
@click.pass_obj
@requires(Role.ADMIN, action="keys.init", record=True)
def init_command(app: AppContext, as_json: bool) -> None:
    """Create an empty keystore at the configured path (refuses an existing one, exit 4)."""
    config = app.config()
    summary = actions.init_keystore(
        keystore_path=config.keystore_path, master=actions.master_for(config)
    )
    _emit(
        as_json, {"keystore": str(summary.path), "entries": 0}, f"created keystore {summary.path}"
    )


@keys.command("master-keygen")
@click.option(
    "--out", type=FILE, help="Where to write it; default: master_key_file from the config."
)
@click.pass_obj
@requires(Role.ADMIN, action="keys.master_keygen", record=True)
def master_keygen_command(app: AppContext, out: pathlib.Path | None) -> None:
    """Generate a random master key file (mode 0600); never overwrites one (exit 4).

    32 random bytes in base64: the keystore derives its key from it with HKDF, which is fast;
    any other master secret (e.g. a passphrase from master_key_command) goes through scrypt.
    """
    path = out or app.config().master_key_file
    if path is None:
        raise click.UsageError("give --out, or set master_key_file in the config")
    actions.generate_master_key(path=path)
    click.echo(
        f"wrote master key file {path} (mode 0600); keep a copy offline, apart from the escrow"
    )


@keys.command("list")
@json_option
@click.pass_obj
@requires(Role.ADMIN, action="keys.list")
def list_command(app: AppContext, as_json: bool) -> None:
    """List the entry names in the keystore (never their values)."""
    config = app.config()
    summary = actions.check_keystore(
        keystore_path=config.keystore_path, master=actions.master_for(config)
    )
    _emit(as_json, {"names": list(summary.names)}, "\n".join(summary.names))


@keys.command("check")
@json_option
@click.pass_obj
@requires(Role.ADMIN, action="keys.check")
def check_command(app: AppContext, as_json: bool) -> None:
    """Open the keystore with the master secret and report how many entries it holds.

    Fails (exit 3) saying whether the keystore is missing, not a keystore, damaged, or intact
    but opened with the wrong master secret; exit 4 for a symlink, a non-regular or an
    oversized file.
    """
    config = app.config()
    summary = actions.check_keystore(
        keystore_path=config.keystore_path, master=actions.master_for(config)
    )
    upgrade = "; rewritten in format 2 on the next save" if summary.format_version < 2 else ""
    _emit(
        as_json,
        {
            "keystore": str(summary.path),
            "entries": summary.entry_count,
            "ok": True,
            "format": summary.format_version,
            "kdf": summary.kdf,
        },
        f"keystore {summary.path}: ok, {summary.entry_count} entries "
        f"(format {summary.format_version}, {summary.kdf}{upgrade})",
    )


@keys.command("recovery-keygen")
@click.option(
    "--out-private",
    required=True,
    type=FILE,
    help="Private key file to write (0600); keep it offline.",
)
@click.option(
    "--out-public",
    required=True,
    type=FILE,
    help="Public key file to write; copy it to the backup hosts.",
)
@click.option(
    "--no-passphrase", is_flag=True, help="Do not protect the private key with a passphrase."
)
@passphrase_stdin_option
@no_role("runs on the offline machine; reads no config, touches no host state")
def recovery_keygen_command(
    out_private: pathlib.Path, out_public: pathlib.Path, no_passphrase: bool, passphrase_stdin: bool
) -> None:
    """Generate the offline recovery key pair (X25519). Run on the offline machine; needs no config.

    The passphrase needs at least 12 characters, 8 different ones and about 64 bits (e.g. 14
    lower-case letters, or 12 mixing letters, digits and punctuation); weaker is refused (exit 4).
    """
    passphrase = None if no_passphrase else _passphrase(passphrase_stdin, confirm=True)
    result = actions.generate_recovery_key(
        private_out=out_private, public_out=out_public, passphrase=passphrase
    )
    click.echo(
        f"wrote {result.private_key} (private, keep offline) and {result.public_key} (public)"
    )
    click.echo(f"fingerprint {result.fingerprint}")


@keys.command("escrow")
@click.option(
    "--recovery-public-key",
    required=True,
    type=EXISTING_FILE,
    help="The recovery public key (PEM).",
)
@click.option("--out", required=True, type=FILE, help="The escrow file to write (mode 0600).")
@click.option(
    "--force", is_flag=True, help="Replace an existing escrow file (a regular file only)."
)
@json_option
@click.pass_obj
@requires(Role.ADMIN, action="keys.escrow", record=True)
def escrow_command(
    app: AppContext,
    recovery_public_key: pathlib.Path,
    out: pathlib.Path,
    force: bool,
    as_json: bool,
) -> None:
    """Write the keystore's entries encrypted to the recovery public key; store it off-site."""
    config = app.config()
    result = actions.write_escrow(
        keystore_path=config.keystore_path,
        master=actions.master_for(config),
        public_key_file=recovery_public_key,
        out=out,
        force=force,
    )
    _emit(
        as_json,
        {"escrow": str(result.out), "entries": result.entry_count, "recipient": result.recipient},
        f"wrote escrow {result.out}: {result.entry_count} entries "
        f"for recovery key {result.recipient}",
    )


@keys.command("recover")
@click.option("--escrow", "escrow_file", required=True, type=EXISTING_FILE, help="The escrow file.")
@click.option(
    "--recovery-private-key",
    required=True,
    type=EXISTING_FILE,
    help="The recovery private key (PEM).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing keystore, keeping it as <path>.replaced-, .other-secret- or "
    ".damaged-<time>.",
)
@passphrase_stdin_option
@json_option
@click.pass_obj
@requires(Role.ADMIN, action="keys.recover", record=True)
def recover_command(
    app: AppContext,
    escrow_file: pathlib.Path,
    recovery_private_key: pathlib.Path,
    force: bool,
    passphrase_stdin: bool,
    as_json: bool,
) -> None:
    """Write a new keystore at the configured path from the escrow, under the current master
    secret."""
    config = app.config()
    result = actions.recover(
        keystore_path=config.keystore_path,
        master=actions.master_for(config),
        escrow_file=escrow_file,
        private_key_file=recovery_private_key,
        force=force,
        passphrase=lambda: _passphrase(passphrase_stdin, confirm=False),
    )
    kept = str(result.kept_previous) if result.kept_previous else None
    text = f"recovered keystore {result.keystore_path}: {result.entry_count} entries"
    _emit(
        as_json,
        {
            "keystore": str(result.keystore_path),
            "entries": result.entry_count,
            "kept_previous": kept,
        },
        text + (f"; the previous file is kept as {kept}" if kept else ""),
    )


commands = [keys]
