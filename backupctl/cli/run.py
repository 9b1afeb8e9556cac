"""Run the click group and turn expected failures into one message and a documented exit code."""

from __future__ import annotations

import logging
import signal
import sys
import types

import click

from backupctl.errors import ExitCode, is_expected

logger = logging.getLogger(__name__)


def _terminate(signum: int, frame: types.FrameType | None) -> None:
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
        if not is_expected(error):  # a bug keeps its traceback
            raise
        click.echo(f"backupctl: error: {error}", err=True)
        sys.exit(type(error).exit_code)
    sys.exit(ExitCode.OK)
