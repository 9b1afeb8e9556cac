"""A location that stops answering gives LocationUnavailable within its deadline, never a hang.

SFTP: the real OpenSSH server's session process is stopped with SIGSTOP (the TCP connection stays
open, nothing answers) and continued afterwards. S3: a real TCP listener that accepts and never
answers stands in for a stalled S3 endpoint (moto cannot be made to stall).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import signal
import socket
import threading
import time

import pytest

from targets import errors, registry

DEADLINE = 3.0  # the location's own timeout
SLACK = 12.0  # how much longer than the deadline the call may take before the test calls it a hang


def _listening_inode(port: int) -> str:
    for line in pathlib.Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":
            return fields[9]
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def _parent(pid: int) -> int:
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _pids() -> list[int]:
    return [int(entry.name) for entry in pathlib.Path("/proc").iterdir() if entry.name.isdigit()]


def _holder_of(inode: str) -> int:
    for pid in _pids():
        try:
            links = [os.readlink(fd) for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return pid
    raise AssertionError(f"no process holds socket {inode}")


def _sessions_of(port: int) -> list[int]:
    """Return the pids of the sshd processes serving connections to the sshd on ``port``."""
    listener = _holder_of(_listening_inode(port))
    found, frontier = [], [listener]
    while frontier:
        parent = frontier.pop()
        for pid in _pids():
            try:
                if _parent(pid) == parent:
                    found.append(pid)
                    frontier.append(pid)
            except OSError:
                continue
    return found


def _call_with_deadline(call, *, before=None, stall=None) -> tuple[BaseException | None, float]:
    """In a thread, run ``before`` (to open that thread's channel), let ``stall`` stop the
    server, then run ``call``; return what the call raised and how long it took. Fail when it is
    still running past DEADLINE + SLACK (the old code waited forever)."""
    outcome: list[BaseException | None] = []
    ready, stalled = threading.Event(), threading.Event()

    def run() -> None:
        if before is not None:
            before()
        ready.set()
        stalled.wait()
        try:
            call()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "the set-up call did not finish"
    if stall is not None:
        stall()
    started = time.monotonic()
    stalled.set()
    thread.join(DEADLINE + SLACK)
    assert not thread.is_alive(), f"the call still waits after {DEADLINE + SLACK:g}s"
    return outcome[0], time.monotonic() - started


@pytest.mark.parametrize("operation", ["read", "write", "list", "ping-on-a-new-channel"])
def test_stalled_sftp_server_gives_location_unavailable_within_the_deadline(
    sshd_server, tmp_path, operation
):
    spec = dataclasses.replace(sshd_server.make_spec("sftp-stalls", tmp_path), io_timeout=DEADLINE)
    sessions: list[int] = []

    def stall() -> None:
        sessions.extend(_sessions_of(sshd_server.port))
        assert sessions, "no sshd session process found for our connection"
        for pid in sessions:
            os.kill(pid, signal.SIGSTOP)

    with registry.open_store(spec) as opened:
        opened.write("config", b"c" * 1000)
        calls = {
            "read": lambda: opened.read("config"),
            "write": lambda: opened.write("config", os.urandom(4 << 20)),
            "list": opened.list_files,
            "ping-on-a-new-channel": opened.ping,
        }
        before = None if operation == "ping-on-a-new-channel" else opened.ping
        try:
            raised, seconds = _call_with_deadline(calls[operation], before=before, stall=stall)
        finally:
            for pid in sessions:
                os.kill(pid, signal.SIGCONT)
    assert isinstance(raised, errors.LocationUnavailable), repr(raised)
    assert "sftp-stalls" in str(raised) and "stopped answering" in str(raised)
    assert seconds >= DEADLINE * 0.9


def test_stalled_s3_endpoint_gives_location_unavailable_within_the_deadline(s3_server):
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept_and_never_answer() -> None:
        with contextlib.suppress(OSError):  # the listener is closed at the end of the test
            for _ in range(4):
                accepted.append(listener.accept()[0])

    acceptor = threading.Thread(target=accept_and_never_answer, daemon=True)
    acceptor.start()
    spec = dataclasses.replace(
        s3_server.make_spec("s3-stalls", "bucket", "p"),
        endpoint=f"http://127.0.0.1:{listener.getsockname()[1]}",
        connect_timeout=1.0,
        read_timeout=1.0,
        max_attempts=2,
    )
    try:
        with registry.open_store(spec) as opened:
            raised, _seconds = _call_with_deadline(lambda: opened.read("config"))
    finally:
        listener.close()
        for connection in accepted:
            connection.close()
    assert isinstance(raised, errors.LocationUnavailable), repr(raised)
    assert "s3-stalls" in str(raised) and "ReadTimeoutError" in str(raised)
