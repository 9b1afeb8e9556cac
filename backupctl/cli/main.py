"""The backupctl command: parse, configure logging, run one command group, map errors to exit
codes."""

from __future__ import annotations

import importlib
import logging
import os
import pathlib
import sys

import click

from backupctl import __version__
from backupctl.cli import context

# Each command group lives in its own module under backupctl/cli and exports `commands`, a list
# of click commands or groups. A module is imported only when one of its commands runs (or for
# --help): paramiko, boto3 and pyudev cost seconds of start-up that `backupctl job list`
# needn't pay.
COMMAND_MODULES = {
    "config": "backupctl.cli.config_commands",
    "init": "backupctl.cli.init_commands",
    "backup": "backupctl.cli.backup_commands",
    "rotate": "backupctl.cli.rotate_commands",
    "status": "backupctl.cli.status_commands",
    "snapshots": "backupctl.cli.status_commands",
    "history": "backupctl.cli.status_commands",
    "verify": "backupctl.cli.verify_commands",
    "keys": "backupctl.cli.keys_commands",
    "location": "backupctl.cli.location_commands",
    "media": "backupctl.cli.media_commands",
    "job": "backupctl.cli.job_commands",
    "tape": "backupctl.cli.tape_commands",
    "audit": "backupctl.cli.audit_commands",
    "staff": "backupctl.cli.staff_commands",
    "restore": "backupctl.cli.restore_commands",
    "browse": "backupctl.cli.restore_commands",
    "disaster-password": "backupctl.cli.disaster_commands",
    "tenant": "backupctl.cli.tenant_commands",
    "schedule": "backupctl.cli.schedule_commands",
    "check": "backupctl.cli.check_commands",
    "drill": "backupctl.cli.check_commands",
    "metrics": "backupctl.cli.metrics_commands",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when the command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module_name = COMMAND_MODULES.get(name)
        if module_name is None:
            return None
        module = importlib.import_module(module_name)
        return next((command for command in module.commands if command.name == name), None)


def configure_logging(verbose: int) -> None:
    """Diagnostics go to stderr through logging; results go to stdout."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="backupctl: %(levelname)s: %(message)s", stream=sys.stderr
    )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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

    Every command checks the acting person's role first (docs/access.md) and every action is
    written to the audit log (docs/audit.md).

    Exit codes: 0 ok, 1 some locations or items failed, 2 usage or config error,
    3 failed, 4 refused for safety or policy, 5 done but needs a look (foreign files,
    repaired damage), 6 empty snapshot, 130 interrupted (docs/exit-codes.md).
    """
    configure_logging(verbose)
    click_context.obj = context.AppContext(config_path=config_path)


def main() -> None:
    """The console script: run the group, then leave without the interpreter's teardown."""
    from backupctl.cli import run

    try:
        run.main(cli)
    except SystemExit as done:
        run.exit_without_teardown(done.code)
