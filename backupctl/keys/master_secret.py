"""The master secret that unlocks the keystore: read from a root-only file or from a command.

Never from argv, never from the environment. The file must be a regular file (not a symlink)
of at most 64 KiB owned by root or the current user and not accessible to group or other; the
command runs without a shell, and only its stdout is the secret (its stderr goes to our stderr,
untouched). No message built here contains the secret or any output of the command. Loading the
secret first forbids core dumps of this process (:mod:`backupctl.keys.process`).
"""

from __future__ import annotations

import base64
import logging
import os
import pathlib
import shlex
import stat
import subprocess

from backupctl.errors import ConfigError
from backupctl.keys import process, securefile
from backupctl.keys.errors import AlreadyExists, KeysError
from backupctl.keys.secret import Secret

logger = logging.getLogger(__name__)

COMMAND_TIMEOUT_SECONDS = 60.0
MAX_SECRET_BYTES = 64 * 1024


def load_master_secret(*, key_file: pathlib.Path | None, key_command: str | None) -> Secret:
    """Given exactly one of a key file and a key command, return the master secret; raise
    ConfigError when neither or both are set, KeysError when the source is unusable."""
    if key_file is not None and key_command:
        raise ConfigError("set only one of master_key_file and master_key_command")
    process.forbid_core_dumps()
    if key_file is not None:
        return _read_key_file(pathlib.Path(key_file))
    if key_command:
        return _run_key_command(key_command)
    raise ConfigError(
        "no master secret configured: set master_key_file (a root-only file) or "
        "master_key_command (a command printing the secret) in [backupctl]"
    )


def _read_key_file(path: pathlib.Path) -> Secret:
    try:
        data = securefile.read_bounded(
            path,
            limit=MAX_SECRET_BYTES,
            what="master key file",
            check=lambda status: _check_key_file_stat(path, status),
        )
    except FileNotFoundError:
        raise KeysError(
            f"master key file {path} does not exist "
            f"(create one with `backupctl keys master-keygen`)"
        ) from None
    except OSError as error:
        raise KeysError(f"master key file {path} cannot be opened: {error.strerror}") from None
    return _secret_from_bytes(data, source=f"master key file {path}")


def _check_key_file_stat(path: pathlib.Path, status: os.stat_result) -> None:
    """Given a key file's stat, raise KeysError naming the problem (never the content)."""
    if not stat.S_ISREG(status.st_mode):
        raise KeysError(f"master key file {path} is not a regular file")
    if status.st_uid not in (0, os.geteuid()):
        raise KeysError(
            f"master key file {path} is owned by uid {status.st_uid}; it must be owned by root "
            f"or by the user running backupctl"
        )
    if status.st_mode & 0o077:
        raise KeysError(
            f"master key file {path} has mode {stat.S_IMODE(status.st_mode):04o}; it must not be "
            f"accessible to group or other (chmod 600 {path})"
        )


def _run_key_command(command: str) -> Secret:
    try:
        argv = tuple(shlex.split(command))
    except ValueError as error:  # e.g. "No closing quotation"; the text itself is not repeated
        raise ConfigError(f"master_key_command cannot be split into words: {error}") from None
    if not argv:
        raise ConfigError("master_key_command is empty")
    logger.debug("running master_key_command %s", argv[0])
    try:
        completed = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise KeysError(f"master_key_command: program {argv[0]!r} not found") from None
    except PermissionError:
        raise KeysError(f"master_key_command: program {argv[0]!r} is not executable") from None
    except subprocess.TimeoutExpired:
        raise KeysError(
            f"master_key_command {argv[0]!r} did not finish within {COMMAND_TIMEOUT_SECONDS:g} s"
        ) from None
    if completed.returncode != 0:
        raise KeysError(
            f"master_key_command {argv[0]!r} failed with exit status {completed.returncode} "
            f"(its output is not shown; see its own messages above)"
        )
    return _secret_from_bytes(completed.stdout, source=f"master_key_command {argv[0]!r}")


def _secret_from_bytes(data: bytes, *, source: str) -> Secret:
    if len(data) > MAX_SECRET_BYTES:
        raise KeysError(f"{source} gave more than {MAX_SECRET_BYTES} bytes")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise KeysError(f"{source} is not UTF-8 text") from None
    if not text:
        raise KeysError(f"{source} is empty")
    return Secret(text)


def generate_master_key_file(path: pathlib.Path) -> None:
    """Given a path that does not exist, write 32 random bytes base64-encoded with mode 0600
    (a random key: the keystore derives its key with HKDF); raise AlreadyExists when anything
    exists at the path (a master key is never overwritten)."""
    path = pathlib.Path(path)
    text = base64.b64encode(os.urandom(32)) + b"\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise KeysError(
            f"master key file directory {path.parent} cannot be created: {error.strerror}"
        ) from None
    try:
        securefile.write_new(path, text, mode=0o600)
    except FileExistsError:
        raise AlreadyExists(
            f"master key file {path} already exists; refusing to overwrite it"
        ) from None
    except OSError as error:
        raise KeysError(f"master key file {path} cannot be written: {error.strerror}") from None
