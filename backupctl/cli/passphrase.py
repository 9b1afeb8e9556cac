"""Reading a staff member's signing-key passphrase: from the terminal, or from a file descriptor
the caller inherited (``--passphrase-fd N``, for scripts and tests); never from argv or the
environment."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import click

from backupctl.keys.secret import Secret

MAX_PASSPHRASE_BYTES = 4096

passphrase_fd_option = click.option(
    "--passphrase-fd",
    type=click.IntRange(min=0),
    default=None,
    help="Read the signing-key passphrase from this inherited file descriptor (first line) "
    "instead of the terminal.",
)
key_option = click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="Your signing key file (default: ~/.config/backupctl/signing-key of the acting account).",
)


def reader(
    fd: int | None, *, prompt: str = "Signing key passphrase", confirm: bool = False
) -> Callable[[], Secret]:
    """Return a callback that reads the passphrase once, from ``fd`` or a hidden prompt."""

    def read() -> Secret:
        if fd is not None:
            data = b""
            while b"\n" not in data and len(data) <= MAX_PASSPHRASE_BYTES:
                chunk = os.read(fd, 256)
                if not chunk:
                    break
                data += chunk
            text = data.split(b"\n", 1)[0].decode("utf-8", errors="strict").rstrip("\r")
        else:
            text = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
        if not text:
            raise click.UsageError("the passphrase is empty")
        return Secret(text)

    return read
