"""Open the keystore named by the config with the master secret it names."""

from __future__ import annotations

from backupctl.config import Config
from backupctl.keys import master_secret
from backupctl.keys.secret import Secret
from backupctl.keys.store import Keystore


def master_for(config: Config) -> Secret:
    """Given the config, return the master secret from the key file or command it names."""
    return master_secret.load_master_secret(
        key_file=config.master_key_file, key_command=config.master_key_command
    )


def open_keystore(config: Config, *, create: bool = False) -> Keystore:
    """Given the config, return its keystore; create an empty one when asked and none exists."""
    master = master_for(config)
    if create:
        return Keystore.open_or_create(config.keystore_path, master)
    return Keystore.open(config.keystore_path, master)
