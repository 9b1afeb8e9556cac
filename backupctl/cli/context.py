"""What every command shares: the config path, the state directory, who is acting."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backupctl.config import Config

DEFAULT_CONFIG = pathlib.Path("/etc/backupctl/backupctl.toml")
DEFAULT_STATE_DIR = pathlib.Path("/var/lib/backupctl")


@dataclasses.dataclass
class AppContext:
    """Given the global options, lazily load what a command needs."""

    config_path: pathlib.Path
    _config: Config | None = None

    def config(self) -> Config:
        """Return the validated config; raise ConfigError when it is missing or malformed."""
        if self._config is None:
            from backupctl import config as config_module

            self._config = config_module.load(self.config_path)
        return self._config

    def config_if_present(self) -> Config | None:
        """Return the validated config, or None when there is no config file (media and job
        commands run without one: single-operator, docs/access.md)."""
        return self.config() if self.config_path.exists() else None

    def state_dir(self) -> pathlib.Path:
        """Return the state directory: from the config when there is one, else the environment."""
        if self.config_path.exists():
            return self.config().state_dir
        return pathlib.Path(os.environ.get("BACKUPCTL_STATE_DIR", DEFAULT_STATE_DIR))

    def state_db(self) -> pathlib.Path:
        from backupctl import state

        return state.db_path(self.state_dir())


def actor() -> str:
    """Return who is acting: the session's login identity (backupctl/identity.py), never what
    environment variables such as SUDO_USER claim on their own."""
    from backupctl import identity

    return identity.current().name


def host() -> str:
    return socket.gethostname()
