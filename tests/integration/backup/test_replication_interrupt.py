"""SIGTERM while replication writes to an SFTP location whose server stopped answering ends the
run within seconds (recorded as interrupted, exit 130), and the next run is not refused.

The SFTP server's session processes are stopped (SIGSTOP) mid-copy: a real OpenSSH server that
accepts no more data, as a hung remote host does; nothing is mocked."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import time

from tests.fixtures import backup_env as backup_env_module


def _parent(pid: int) -> int:
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _processes() -> list[int]:
    return [int(entry.name) for entry in pathlib.Path("/proc").iterdir() if entry.name.isdigit()]


def _sshd_sessions(config_file: pathlib.Path) -> list[int]:
    """Return the pids of the session processes below the sshd that reads ``config_file``."""
    listeners = set()
    for pid in _processes():
        try:
            if str(config_file).encode() in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes():
                listeners.add(pid)
        except OSError:
            continue
    sessions = []
    for pid in _processes():
        try:
            ancestor = _parent(pid)
            while ancestor > 1 and ancestor not in listeners:
                ancestor = _parent(ancestor)
        except (OSError, ValueError):
            continue
        if ancestor in listeners and pid not in listeners:
            sessions.append(pid)
    return sessions


def _unread_bytes_at(port: int) -> int:
    """Return the bytes waiting in the server side's receive queues of connections to ``port``."""
    total = 0
    for line in pathlib.Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            total += int(fields[4].split(":")[1], 16)
    return total


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_sigterm_during_replication_to_a_hung_sftp_server_ends_the_run(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    # enough that replication is still writing when the sessions are stopped, on a fast machine too
    backup_env_module.write_tree(env.root / "data" / "big", files=120, size=1_000_000, seed=11)
    sftp_data = env.root / "sftp-root" / env.source / "data"
    config_file = env.ssh.identity_file.parent / "sshd_config"
    process = subprocess.Popen(
        (str(backup_env_module.BACKUPCTL), "--config", str(env.config_path), "backup", "--quiet"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stopped: list[int] = []
    try:
        # a pack file, not just the data/xx folders restic init made: replication is writing
        _wait_for(
            lambda: (
                any(path.is_file() for path in sftp_data.rglob("*")) or process.poll() is not None
            ),
            120,
            "replication to reach the SFTP location",
        )
        assert process.poll() is None, "backupctl ended before replication was seen"
        assert _sshd_sessions(config_file), "no sshd session serving the replication was found"

        def stop_sessions_until_a_write_hangs() -> bool:
            # a session opened after the first stop (a new channel) is stopped as well
            for pid in _sshd_sessions(config_file):
                if pid not in stopped:
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
            return _unread_bytes_at(env.ssh.port) > 0

        _wait_for(stop_sessions_until_a_write_hangs, 30, "a write the stopped server does not read")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert process.returncode == 130, stdout + stderr
    assert elapsed < 10, f"backupctl took {elapsed:.1f}s to stop"
    newest = json.loads(env.backupctl("history", "--json", check=True).stdout)["runs"][0]
    assert newest["exit_code"] == 130 and newest["ended_at"]

    result = env.backupctl("backup", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    check = env.restic("sftp-de", "check")
    assert check.returncode == 0, check.stderr
