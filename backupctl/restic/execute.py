"""The one place that runs restic: password through a pipe, output streamed, signals forwarded.

Given an argv (a tuple, never a shell string), this runs restic in its own process group, hands it
the repository password through an inherited pipe (``--password-file /dev/fd/N``, so the secret is
in neither argv nor the environment), streams stdout lines to a callback, keeps stderr for the
reason, forwards SIGINT/SIGTERM to restic so it can unlock the repository, applies a timeout, and
classifies the exit code through ``exitcodes``.

Every stop signal restic gets is SIGINT: restic 0.14 removes its repository lock only on SIGINT
(on SIGTERM it dies and leaves the lock, and the next ``check`` or ``prune`` is refused).

restic runs in its own session (so a Ctrl-C reaches it only through us), which means it would
outlive a backupctl killed with SIGKILL. It therefore asks the kernel for SIGINT when its parent
dies (``prctl(PR_SET_PDEATHSIG)``): util-linux ``setpriv --pdeathsig SIGINT`` sets it and execs
restic (the setting survives exec), as ``recovery/ddrescue.py`` does for ddrescue. Without
setpriv a ``preexec_fn`` sets it, but that forces a full ``fork`` of the Python process instead
of ``vfork`` (0.1 ms against 1-6 ms per restic start, more on a loaded machine). Unlike the
``preexec_fn``, setpriv does not check that backupctl is still alive when it sets the signal: a
backupctl killed in the microseconds between the start and that call leaves restic running to
its end on its own (it removes its lock when done). Linux sends the
signal when the *thread* that forked restic exits, not the process; ``run`` starts restic and
waits for it on the same thread and returns only after restic has ended, so that thread always
outlives restic and the signal comes only when backupctl itself dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import functools
import logging
import os
import shutil
import signal
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping

from backupctl.errors import BackupctlError
from backupctl.keys.secret import Secret
from backupctl.restic import exitcodes

logger = logging.getLogger(__name__)

# Only these variables of our own environment reach restic; RESTIC_* from the caller never does.
PASSED_ENVIRONMENT = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "SSH_AUTH_SOCK")
STDERR_LIMIT = 64 * 1024
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
STOP_SIGNAL = signal.SIGINT  # the one signal on which restic removes its lock before it exits


class ResticNotRunnable(BackupctlError):
    """The restic binary could not be started (removed or not executable)."""


@dataclasses.dataclass(frozen=True)
class Result:
    returncode: int
    outcome: exitcodes.Outcome
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.outcome in (exitcodes.Outcome.OK, exitcodes.Outcome.INCOMPLETE)

    def reason(self) -> str:
        return exitcodes.reason(self.outcome, self.stderr)


def build_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """Given the location's variables, return restic's whole environment."""
    environment = {name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ}
    environment.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    environment.update(extra)
    return environment


def run(
    argv: tuple[str, ...],
    *,
    password: Secret | None,
    environment: Mapping[str, str] = {},
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> Result:
    """Run restic; return its Result. stdout is kept only when no ``on_line`` callback is given."""
    with _password_pipe(password) as password_fd:
        full_argv = with_password_file(argv, password_fd)
        logger.debug("running %s", " ".join(full_argv))
        setpriv = _setpriv()
        if setpriv is not None:
            _check_runnable(argv[0])  # setpriv would only exit 126 or 127
        try:
            process = subprocess.Popen(
                with_parent_death_signal(full_argv, setpriv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=build_environment(environment),
                pass_fds=(password_fd,) if password_fd else (),
                start_new_session=True,
                # the child hook takes no lock and imports nothing (see _die_with_parent)
                preexec_fn=None if setpriv else _die_with_parent(os.getpid()),  # noqa: PLW1509
                text=True,
                errors="replace",
            )
        except OSError as error:
            raise ResticNotRunnable(f"cannot run {argv[0]}: {error.strerror}") from None
    stderr_chunks: list[str] = []
    reader = threading.Thread(target=_drain, args=(process.stderr, stderr_chunks), daemon=True)
    reader.start()
    timed_out = threading.Event()
    timer = threading.Timer(timeout, _time_out, args=(process, timed_out)) if timeout else None
    if timer:
        timer.start()
    stdout_lines: list[str] = []
    try:
        with _forward_signals(process):
            for line in process.stdout:
                if on_line is not None:
                    on_line(line.rstrip("\n"))
                else:
                    stdout_lines.append(line)
            process.wait()
    finally:
        if timer:
            timer.cancel()
        if process.poll() is None:
            _kill_group(process)
            process.wait()
        reader.join(timeout=5)
    stderr = "".join(stderr_chunks)
    outcome = exitcodes.classify(process.returncode, stderr)
    if timed_out.is_set():
        stderr += f"\nfatal: restic did not finish within {timeout:.0f}s and was stopped"
    return Result(process.returncode, outcome, "".join(stdout_lines), stderr)


def with_password_file(argv: tuple[str, ...], password_fd: int | None) -> tuple[str, ...]:
    """Given restic's argv, return it with ``--password-file /dev/fd/N`` right after the subcommand
    (before any ``--``, after which everything is a path)."""
    if password_fd is None:
        return argv
    return (*argv[:2], "--password-file", f"/dev/fd/{password_fd}", *argv[2:])


def with_parent_death_signal(argv: tuple[str, ...], setpriv: str | None) -> tuple[str, ...]:
    """Given restic's argv and util-linux setpriv (None: not installed), return the argv that
    starts restic with SIGINT as its parent-death signal (unchanged without setpriv: then
    ``_die_with_parent`` sets it)."""
    if setpriv is None:
        return argv
    return (setpriv, "--pdeathsig", STOP_SIGNAL.name, "--", *argv)


@functools.cache
def _setpriv() -> str | None:
    return shutil.which("setpriv")


def _check_runnable(program: str) -> None:
    """Raise ResticNotRunnable when ``program`` cannot be executed (what Popen would raise if it
    started the program itself)."""
    path = program if os.sep in program else shutil.which(program)
    try:
        if path is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        if not stat.S_ISREG(os.stat(path).st_mode) or not os.access(path, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as error:
        raise ResticNotRunnable(f"cannot run {program}: {error.strerror}") from None


@contextlib.contextmanager
def _password_pipe(password: Secret | None) -> Iterator[int | None]:
    """Yield the read end of a pipe that holds the password; the parent's copy closes afterwards."""
    if password is None:
        yield None
        return
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, password.reveal().encode() + b"\n")
    finally:
        os.close(write_fd)
    try:
        yield read_fd
    finally:
        os.close(read_fd)


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """Return what the forked child runs before exec: ask for SIGINT when its parent thread dies,
    and end at once if the parent is already gone. It only calls a function resolved beforehand
    (no imports, no locks), as code between fork and exec must."""
    prctl = _libc().prctl
    signal_number = int(STOP_SIGNAL)

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(128 + signal_number)

    return in_child


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _drain(stream, chunks: list[str]) -> None:
    size = 0
    for line in stream:
        if size < STDERR_LIMIT:
            chunks.append(line)
            size += len(line)


def _time_out(process: subprocess.Popen, timed_out: threading.Event) -> None:
    timed_out.set()
    _kill_group(process)


def _kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


@contextlib.contextmanager
def _forward_signals(process: subprocess.Popen) -> Iterator[None]:
    """While restic runs, pass SIGINT/SIGTERM on to it as SIGINT so it removes its lock, then
    raise KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def forward(signum, _frame):
        received.append(signum)
        _kill_group(process, STOP_SIGNAL)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt
