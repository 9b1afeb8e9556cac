"""The one error type of the key-material package, and its few kinds.

Every message names the file or source it is about and never contains a secret or any file
content. The CLI prints the message on one line and exits with ``exit_code``
(docs/exit-codes.md): 3 when something cannot be used, 4 when it is refused for safety.
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


class KeystoreDamaged(KeystoreUnreadable):
    """The file is a keystore, but it was changed or damaged since it was written."""


class WrongMasterSecret(KeystoreUnreadable):
    """The keystore is intact, but the configured master secret is not the one that sealed it."""


class EscrowError(KeysError):
    """An escrow or recovery key cannot be used; the message names the file."""


class AlreadyExists(KeysError):
    """The file to create exists already; key material is never overwritten."""

    exit_code = ExitCode.REFUSED


class UnsafeFile(KeysError):
    """A path to read or replace is a symlink, not a regular file, or larger than allowed."""

    exit_code = ExitCode.REFUSED


class WeakPassphrase(KeysError):
    """A new passphrase does not meet the documented minimum strength."""

    exit_code = ExitCode.REFUSED
