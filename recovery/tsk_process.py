"""The Sleuth Kit's worker process (``tsk_worker``), forked: its pipes, and how it is ended.

The child closes every descriptor it inherited but its own two pipes, leaves the parent's
process group, dies with the parent (``PR_SET_PDEATHSIG``), ignores Ctrl-C (the parent's to
handle) and leaves with ``os._exit``. ``tsk_client`` speaks to it.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import os
import signal

from recovery import tsk_worker

PR_SET_PDEATHSIG = 1


class Child:
    """A forked worker: its pid, its request and answer pipes, and how it ended."""

    def __init__(self, image: str) -> None:
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            _run_worker(image, request_read, answer_write, (request_write, answer_read))
        os.close(request_read)
        os.close(answer_write)
        self.stdin = os.fdopen(request_write, "wb")
        self.stdout = os.fdopen(answer_read, "rb", buffering=0)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _run_worker(image: str, requests: int, answers: int, parent_ends: tuple[int, int]) -> None:
    """Run the worker in the forked child and leave with os._exit (no parent clean-up)."""
    status = 1
    try:
        for descriptor in parent_ends:
            os.close(descriptor)
        # nothing else inherited stays open: a pipe another thread had just made (PhotoRec
        # starting) would never see its end while this worker lives
        low = 3
        for descriptor in sorted((requests, answers)):
            os.closerange(low, descriptor)
            low = descriptor + 1
        os.closerange(low, os.sysconf("SC_OPEN_MAX"))
        os.setsid()  # its own process group: killed as one
        with contextlib.suppress(OSError, AttributeError):  # killed when backupctl dies
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        faulthandler.disable()  # a crash is reported by the parent, as a warning
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)  # libtsk's own messages would garble the progress output
        with os.fdopen(requests, "rb") as inbound, os.fdopen(answers, "wb") as outbound:
            tsk_worker.serve(image, inbound, outbound)
        status = 0
    finally:
        os._exit(status)


def kill(process: Child, *, reap: bool = True) -> None:
    """SIGKILL the worker unless it has ended; reap it unless ``reap`` is False."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    if reap:
        process.wait()
