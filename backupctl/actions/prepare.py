"""What every repository action opens first: the keystore and the restic binary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backupctl.config import Config
from backupctl.keys import access as keyaccess
from backupctl.restic import operations
from backupctl.restic.flags import Restic

if TYPE_CHECKING:
    from backupctl.keys.store import Keystore


def keystore_and_restic(
    config: Config, *, create_keystore: bool = False
) -> tuple[Keystore, Restic]:
    """Given the config, return its open keystore (created empty when asked and missing) and the
    detected restic; raise KeysError or ResticError when either cannot be used."""
    keystore = keyaccess.open_keystore(config, create=create_keystore)
    return keystore, operations.detect(config.restic_binary, config.restic_cache_dir)
