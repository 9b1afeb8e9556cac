"""How the restic runner ends its child: the child asks for SIGINT when its parent dies (the
signal on which restic 0.14 removes its lock). A Python one-liner stands in for restic here, since
PR_GET_PDEATHSIG can only be read by the process itself; the CLI test with real restic is
tests/integration/backup/test_secrets_and_damage.py::test_restic_dies_with_a_killed_backupctl."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from backupctl.restic import execute

PRINT_PDEATHSIG = (
    "import ctypes; value = ctypes.c_int(); "
    "ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0); print(value.value)"
)


def test_the_child_gets_sigint_when_its_parent_dies():
    result = execute.run((sys.executable, "-c", PRINT_PDEATHSIG), password=None)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == signal.SIGINT == execute.STOP_SIGNAL


def test_a_child_started_from_a_worker_thread_gets_it_too():
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            execute.run((sys.executable, "-c", PRINT_PDEATHSIG), password=None)
        )
    )
    worker.start()
    worker.join(60)
    assert not worker.is_alive() and int(results[0].stdout) == signal.SIGINT


# The handler writes with os.write: the signal may land while print('ready') still holds stdout.
REPORT_SIGNAL = (
    "import os, signal\n"
    "def report(number, frame):\n"
    "    os.write(1, b'got %d\\n' % number); os._exit(130)\n"
    "signal.signal(signal.SIGINT, report); signal.signal(signal.SIGTERM, report)\n"
    "os.write(1, b'ready\\n')\n"
    "while True: signal.pause()\n"
)


def test_sigterm_to_backupctl_reaches_the_child_as_sigint():
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "ready":
            os.kill(os.getpid(), signal.SIGTERM)  # what systemd sends to a stopped service

    with pytest.raises(KeyboardInterrupt):
        execute.run(
            (sys.executable, "-c", REPORT_SIGNAL), password=None, on_line=on_line, timeout=60
        )
    assert lines == ["ready", f"got {int(signal.SIGINT)}"]


def test_without_setpriv_the_child_sets_the_signal_itself(monkeypatch):
    monkeypatch.setattr(execute, "_setpriv", lambda: None)
    result = execute.run((sys.executable, "-c", PRINT_PDEATHSIG), password=None)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == signal.SIGINT


def test_setpriv_sets_the_parent_death_signal_and_execs_the_argv_unchanged():
    argv = ("/usr/bin/restic", "backup", "--", "/--pdeathsig")
    assert execute.with_parent_death_signal(argv, "/usr/bin/setpriv") == (
        "/usr/bin/setpriv",
        "--pdeathsig",
        "SIGINT",
        "--",
        *argv,
    )
    assert execute.with_parent_death_signal(argv, None) == argv


def test_a_restic_that_is_not_executable_is_a_clear_error(tmp_path):
    binary = tmp_path / "restic"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o644)
    with pytest.raises(execute.ResticNotRunnable, match="cannot run .*Permission denied"):
        execute.run((str(binary), "version"), password=None)
