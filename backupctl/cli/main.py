"""The backupctl command: parse, configure logging, run one command group, map errors to exit codes."""

from __future__ import annotations

import importlib
import logging
import os
import pathlib
import sys

import click

from backupctl import __version__
from backupctl.cli import context

# Each command group lives in its own module under backupctl/cli and exports `commands`,
# a list of click commands or groups to register at the top level.
COMMAND_MODULES = (
    "backupctl.cli.config_commands",
    "backupctl.cli.init_commands",
    "backupctl.cli.backup_commands",
    "backupctl.cli.status_commands",
    "backupctl.cli.keys_commands",
    "backupctl.cli.location_commands",
    "backupctl.cli.media_commands",
    "backupctl.cli.job_commands",
)


def configure_logging(verbose: int) -> None:
    """Diagnostics go to stderr through logging; results go to stdout."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="backupctl: %(levelname)s: %(message)s", stream=sys.stderr)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backupctl")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=lambda: os.environ.get("BACKUPCTL_CONFIG", str(context.DEFAULT_CONFIG)),
    show_default="/etc/backupctl/backupctl.toml, or $BACKUPCTL_CONFIG",
    help="The TOML configuration file.",
)
@click.option("-v", "--verbose", count=True, help="More diagnostics on stderr (-vv for debug).")
@click.pass_context
def cli(click_context: click.Context, config_path: pathlib.Path, verbose: int) -> None:
    """Encrypted backups to several locations, and the media recovery workshop.

    Exit codes: 0 ok, 1 some locations or items failed, 2 usage or config error,
    3 failed, 4 refused for safety or policy, 130 interrupted (docs/exit-codes.md).
    """
    configure_logging(verbose)
    click_context.obj = context.AppContext(config_path=config_path)


for _module_name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_module_name)
    except ModuleNotFoundError as error:  # a group not built yet must not break the others
        if error.name != _module_name:
            raise
        continue
    for _command in _module.commands:
        cli.add_command(_command)


def main() -> None:
    from backupctl.cli import run

    run.main(cli)
