"""The console script leaves without the interpreter's teardown, but nothing it owes is lost:
the exit status, buffered output, atexit handlers; and a run with a live thread waits for it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from backupctl.cli import run


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_output_and_atexit_handlers_survive(tmp_path):
    marker = tmp_path / "atexit-ran"
    result = _run_python(
        f"""
        import atexit, pathlib, sys
        from backupctl.cli import run
        atexit.register(pathlib.Path({str(marker)!r}).write_text, "yes")
        sys.stdout.write("buffered, no newline")
        sys.stderr.write("to stderr")
        run.exit_without_teardown(5)
        print("never reached")
        """
    )
    assert result.returncode == 5
    assert result.stdout == "buffered, no newline"
    assert result.stderr == "to stderr"
    assert marker.read_text() == "yes"


def test_none_is_success():
    result = _run_python("from backupctl.cli import run; run.exit_without_teardown(None)")
    assert result.returncode == 0


def test_a_live_thread_is_waited_for(tmp_path):
    marker = tmp_path / "thread-finished"
    result = _run_python(
        f"""
        import pathlib, threading, time
        from backupctl.cli import run
        def late():
            time.sleep(0.3)
            pathlib.Path({str(marker)!r}).write_text("done")
        threading.Thread(target=late).start()
        run.exit_without_teardown(1)
        """
    )
    assert result.returncode == 1
    assert marker.read_text() == "done"


def test_a_message_code_takes_the_normal_exit():
    with pytest.raises(SystemExit) as raised:
        run.exit_without_teardown("backupctl: stopped")
    assert raised.value.code == "backupctl: stopped"
