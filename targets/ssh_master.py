"""One ssh connection to an SFTP location that the restic processes of one action share.

Every restic process opens its own ssh connection: a key exchange, host key check and login, about
a quarter of a second on a LAN and several round trips more across the internet. A restore runs
two (``restic ls``, then ``restic restore``). Inside ``shared`` an OpenSSH master connection
(``ssh -M -N``, connection multiplexing) is open, and restic's ssh command, given the control
socket with ``ControlMaster=no``, runs its SFTP session over it; should the socket not answer, ssh
falls back to a connection of its own, so sharing can only save time, never fail an action.

The socket sits in a fresh 0700 folder of root's (whoever can reach it speaks as the location's
user). The master is told ``ControlPersist``: it puts itself in the background once logged in
(its start process exits 0, which is the sign it is ready) and ends on its own after
``IDLE_SECONDS`` without a client, so even a backupctl killed with SIGKILL leaves it for that
long only; normally ``ssh -O exit`` ends it when the block ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

logger = logging.getLogger(__name__)

IDLE_SECONDS = 30
READY_SECONDS = 2.0  # waited for a master's login before the block goes on without it
EXIT_TIMEOUT_SECONDS = 5.0
SOCKET_PATH_MAX = 80  # sun_path holds 108 bytes; ssh adds a 17-byte suffix while binding
# restic splits its sftp.command itself (ssh_command): a plain path passes through either splitter
PLAIN_PATH = re.compile(r"[A-Za-z0-9/._-]+")


@contextlib.contextmanager
def shared(options: tuple[str, ...], login: str) -> Iterator[str | None]:
    """Given ssh's options (without the login and the command) and ``user@host``, yield the
    control socket's path for the block, or None when no master can be had (the reason is
    logged; each process then connects alone). A master still logging in after READY_SECONDS
    is not waited for: the block goes on (restic connects alone until the socket answers), so a
    location that does not answer costs restic's own timeout plus READY_SECONDS at most."""
    directory = tempfile.mkdtemp(prefix="backupctl-ssh-")  # 0700
    path = os.path.join(directory, "m")
    master = None
    try:
        if len(path) <= SOCKET_PATH_MAX and PLAIN_PATH.fullmatch(path) is not None:
            master = _start(options, login, path)
        yield path if master is not None else None
    finally:
        if master is not None:
            _stop(master, path, login)
        shutil.rmtree(directory, ignore_errors=True)


def client_options(path: str) -> tuple[str, ...]:
    """Given a control socket's path, return the ssh options that use it and never become a
    master themselves."""
    return ("-o", f"ControlPath={path}", "-o", "ControlMaster=no")


def _start(options: tuple[str, ...], login: str, path: str) -> subprocess.Popen | None:
    """Start the master; return its start process unless it failed (it exits 0 once logged in
    and in the background)."""
    argv = (
        "ssh",
        *options,
        "-M",
        "-N",
        "-S",
        path,
        "-o",
        f"ControlPersist={IDLE_SECONDS}",
        "-E",
        path + ".log",  # the master keeps the stderr it was given; this one ends with the folder
        login,
    )
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C at the terminal reaches restic through us only
        )
    except OSError as error:
        logger.debug("no shared ssh connection: %s", error.strerror)
        return None
    try:
        returncode = process.wait(timeout=READY_SECONDS)
    except subprocess.TimeoutExpired:
        logger.debug("shared ssh connection not ready within %.0f s: going on", READY_SECONDS)
        return process
    if returncode != 0:
        logger.debug("no shared ssh connection (ssh exited %d): %s", returncode, _tail(path))
        return None
    return process


def _stop(master: subprocess.Popen, path: str, login: str) -> None:
    """End a master still logging in; ask one in the background to end (when it does not
    answer, it ends by itself after IDLE_SECONDS without a client)."""
    if master.poll() is None:
        master.kill()
        master.wait()
    if master.returncode != 0:
        return
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(
            ("ssh", "-S", path, "-O", "exit", login),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=EXIT_TIMEOUT_SECONDS,
            check=False,
        )


def _tail(path: str) -> str:
    """Return the end of the master's log (bounded; ssh writes no secret there)."""
    try:
        with open(path + ".log", "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 300))
            return log.read(300).decode(errors="replace").strip()
    except OSError:
        return "(no log)"
