"""Run the click group and turn expected failures into one message and a documented exit code."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
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


def exit_without_teardown(code: object) -> None:
    """Exit with ``code`` as ``sys.exit`` would, but skip the interpreter's teardown.

    Tearing down the few hundred modules a run imports costs about 18 ms of CPU at the end of
    every run, more than a tenth of a run's fixed cost, and nothing of ours needs it: every file
    and database connection is closed by the code that opened it. What the teardown would still
    do is done here: the atexit handlers run (logging's flush, ``weakref.finalize`` clean-ups)
    and stdout and stderr are flushed. While another thread still runs, or when ``code`` is not
    an exit status, the normal exit is taken, which waits for the threads as before.
    """
    if code is None:
        code = 0
    if not isinstance(code, int) or threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let Python report it as it always has
        sys.exit(code)
    os._exit(code & 0xFF)
