"""The OpenSSH command line restic uses to reach an SFTP location (``-o sftp.command=...``).

restic splits the option value itself (``SplitShellStrings``): restic 0.14 splits on blanks,
backslashes and quote characters and keeps a quoted run whole; newer releases follow shell rules
with quotes and backslash escapes. An argument is therefore written bare, or wrapped whole in
double quotes when it holds blanks; arguments with quotes or backslashes are refused, since the
two splitters would read them differently.
"""

from __future__ import annotations

import math
import pathlib

from targets import errors


def ssh_argv(
    *,
    host: str,
    port: int,
    user: str,
    identity_file: pathlib.Path,
    known_hosts: pathlib.Path,
    connect_timeout: float,
) -> tuple[str, ...]:
    """Given the connection facts, return the ssh argv that opens the sftp subsystem, trusting
    only the given known_hosts file and key and never prompting."""
    options = ssh_options(
        port=port,
        identity_file=identity_file,
        known_hosts=known_hosts,
        connect_timeout=connect_timeout,
    )
    return ("ssh", *options, f"{user}@{host}", "-s", "sftp")


def ssh_options(
    *,
    port: int,
    identity_file: pathlib.Path,
    known_hosts: pathlib.Path,
    connect_timeout: float,
) -> tuple[str, ...]:
    """Given the connection facts, return ssh's options (no login, no command): only the given
    known_hosts file and key are trusted, and ssh never prompts."""
    return (
        "-F",
        "none",
        "-i",
        str(identity_file),
        "-p",
        str(port),
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"ConnectTimeout={max(1, math.ceil(connect_timeout))}",
        "-o",
        "ServerAliveInterval=30",
        "-o",
        "ServerAliveCountMax=4",
    )


def quote_for_restic(location: str, argument: str) -> str:
    """Given one argument, return it as restic's splitter must see it; raise TargetError when it
    is empty or holds a quote or backslash."""
    if not argument or any(character in argument for character in "\"'\\"):
        raise errors.TargetError(
            f"location {location}: cannot pass {argument!r} to restic's sftp.command "
            "(empty, or contains a quote or backslash)"
        )
    if any(character.isspace() for character in argument):
        return f'"{argument}"'
    return argument


def sftp_command_option(location: str, argv: tuple[str, ...]) -> str:
    """Given an ssh argv, return the value of restic's ``sftp.command`` option."""
    return " ".join(quote_for_restic(location, argument) for argument in argv)
