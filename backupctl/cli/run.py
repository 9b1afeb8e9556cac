"""Run the click group and turn expected failures into one message and a documented exit code."""

from __future__ import annotations

import logging
import signal
import sys

import click

from backupctl.errors import ExitCode

logger = logging.getLogger(__name__)


def _is_expected(error: BaseException) -> bool:
    """Every project error carries an ``exit_code``; anything else is a bug and keeps its traceback."""
    return isinstance(error, Exception) and isinstance(getattr(type(error), "exit_code", None), int)


def _terminate(signum, frame) -> None:
    """SIGTERM (systemd stopping a unit, kill) stops a run like Ctrl-C: cleanly, recorded."""
    raise KeyboardInterrupt


def main(group: click.Group) -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        group.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("backupctl: interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as error:
        error.show()
        sys.exit(ExitCode.USAGE)
    except click.exceptions.Exit as error:
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("backupctl: interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as error:
        if not _is_expected(error):
            raise
        click.echo(f"backupctl: error: {error}", err=True)
        sys.exit(type(error).exit_code)
    sys.exit(ExitCode.OK)
