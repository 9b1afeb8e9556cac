"""The one error type of the key-material package, and its few kinds.

Every message names the file or source it is about and never contains a secret or any file
content. The CLI prints the message on one line and exits with ``exit_code``.
"""

from __future__ import annotations

from backupctl.errors import BackupctlError, ExitCode


class KeysError(BackupctlError):
    """The keystore, an entry, the master secret, the escrow or a key file cannot be used."""

    exit_code = ExitCode.FAILED


class KeystoreMissing(KeysError):
    """There is no keystore file at the path."""


class KeystoreUnreadable(KeysError):
    """The file is not a keystore, is damaged, or the master secret does not open it."""


class EscrowError(KeysError):
    """An escrow or recovery key cannot be used; the message names the file."""
