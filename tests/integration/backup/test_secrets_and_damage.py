"""The repository password never reaches restic's argv or environment; damage on one location
never spreads and is repaired from a verified copy; an interrupted run leaves nothing the next
run cannot finish."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import signal
import subprocess
import time

from tests.fixtures import backup_env as backup_env_module


def _parent(pid: str) -> int:
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _restic_processes(subcommand: bytes = b"", *, parent: int | None = None) -> list[int]:
    """Return the pids of running restic processes (of one parent, running one subcommand)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (
                os.path.basename(os.readlink(entry / "exe")) == "restic"
                and (subcommand in (entry / "cmdline").read_bytes())
                and (parent is None or _parent(entry.name) == parent)
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _is_running(pid: int) -> bool:
    """Return whether ``pid`` is a live process (a zombie nobody reaped has ended)."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_restic_backup(
    process: subprocess.Popen, *, marker: bytes = b"\x00backup\x00", deadline: float = 60
) -> int:
    """Return the pid of the restic child of backupctl ``process`` whose argv holds ``marker``
    (by default: the backup); fail the test when backupctl ends first or none appears within
    ``deadline`` seconds."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        assert process.poll() is None, f"backupctl ended before restic {marker!r} was seen"
        found = _restic_processes(marker, parent=process.pid)
        if found:
            return found[0]
        time.sleep(0.005)
    raise AssertionError(f"no restic {marker!r} child of backupctl appeared within {deadline}s")


def _wait_until_gone(pid: int, *, deadline: float) -> None:
    until = time.monotonic() + deadline
    while _is_running(pid):
        assert time.monotonic() < until, f"restic (pid {pid}) still runs after {deadline}s"
        time.sleep(0.01)


def _wait_for_progress(pid: int, *, deadline: float = 30) -> None:
    """Wait until restic ``pid`` has read some input (so a signal lands mid-backup)."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        try:
            io = pathlib.Path(f"/proc/{pid}/io").read_text()
        except OSError:
            return
        if int(io.split("rchar: ", 1)[1].split()[0]) > 1_000_000:
            return
        time.sleep(0.005)
    raise AssertionError(f"restic (pid {pid}) read nothing within {deadline}s")


def test_password_is_not_in_restic_argv_or_environment(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    backup_env_module.write_tree(env.root / "data" / "big", files=20, size=1_000_000, seed=3)
    password = env.password().encode()
    process = subprocess.Popen(
        (str(backup_env_module.BACKUPCTL), "--config", str(env.config_path), "backup", "--quiet"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen: dict[int, tuple[bytes, bytes]] = {}
    while process.poll() is None:
        for pid in _restic_processes(parent=process.pid):
            try:
                seen[pid] = (
                    pathlib.Path(f"/proc/{pid}/cmdline").read_bytes(),
                    pathlib.Path(f"/proc/{pid}/environ").read_bytes(),
                )
            except OSError:
                continue
        time.sleep(0.005)
    stdout, stderr = process.communicate()
    assert process.returncode == 0, stdout + stderr
    backups = {pid: found for pid, found in seen.items() if b"\x00backup\x00" in found[0]}
    assert backups, "no running restic backup process was observed"
    for cmdline, _ in backups.values():
        assert b"--password-file\x00/dev/fd/" in cmdline
    for cmdline, environ in seen.values():
        assert password not in cmdline and password not in environ
    assert password not in stdout and password not in stderr


def test_damaged_pack_is_not_copied_and_is_repaired_from_a_good_copy(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    packs = sorted((env.root / "disk" / env.source / "data").glob("*/*"))
    damaged = packs[0]
    original = damaged.read_bytes()
    damaged.write_bytes(original[: len(original) // 2])  # truncated on the first location
    sftp_copy = (
        env.root / "sftp-root" / env.source / damaged.relative_to(env.root / "disk" / env.source)
    )
    sftp_copy.unlink()  # and lost on the second

    (env.root / "data" / "another.txt").write_text("a change\n")
    result = env.backupctl("backup", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert damaged.read_bytes() == original, "the damaged copy was not repaired"
    assert sftp_copy.read_bytes() == original, "the lost copy was not restored from a good one"
    for location in ("disk", "sftp-de", "s3-de"):
        check = env.restic(location, "check", "--read-data")
        assert check.returncode == 0, f"{location}: {check.stderr}"


def test_interrupted_backup_leaves_a_state_the_next_run_finishes(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    backup_env_module.write_tree(env.root / "data" / "big", files=40, size=1_000_000, seed=5)
    process = subprocess.Popen(
        (str(backup_env_module.BACKUPCTL), "--config", str(env.config_path), "backup", "--quiet"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    restic = _wait_for_restic_backup(process)
    _wait_for_progress(restic)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert b"interrupted" in stderr
    _wait_until_gone(restic, deadline=30)

    result = env.backupctl("backup", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    snapshot_sets = []
    for location in ("disk", "sftp-de", "s3-de"):
        check = env.restic(location, "check")
        assert check.returncode == 0, f"{location}: {check.stderr}"
        listing = env.restic(location, "snapshots", "--json")
        snapshot_sets.append({entry["id"] for entry in json.loads(listing.stdout)})
    assert snapshot_sets[0] and snapshot_sets[0] == snapshot_sets[1] == snapshot_sets[2]


def _waits_on_a_fifo(pid: int) -> bool:
    """Return whether a thread of ``pid`` is blocked opening a FIFO (it writes nothing then);
    the kernel names that wait wait_for_partner (fifo_open in older kernels)."""
    try:
        return any(
            (task / "wchan").read_text() in ("wait_for_partner", "fifo_open")
            for task in pathlib.Path(f"/proc/{pid}/task").iterdir()
        )
    except OSError:
        return False


def _hold_silent_with_a_fifo(env) -> contextlib.AbstractContextManager:
    """restic 0.14: a FIFO planted as a lock file blocks restic while it reads the locks."""
    fifo = env.root / "disk" / env.source / "locks" / ("f" * 64)
    fifo.parent.mkdir(exist_ok=True)
    os.mkfifo(fifo)

    def silent(process: subprocess.Popen) -> int:
        restic = _wait_for_restic_backup(process)
        until = time.monotonic() + 30
        while not _waits_on_a_fifo(restic):
            assert _is_running(restic), "restic ended before it blocked on the planted lock"
            assert time.monotonic() < until, "restic did not block on the planted lock"
            time.sleep(0.01)
        return restic

    return contextlib.nullcontext(silent)


def _holds_a_lock(locks: pathlib.Path) -> bool:
    """Return whether a complete lock file is in ``locks``: non-empty, under its final name (restic
    writes it as "<id>-tmp-<n>", syncs and renames it; stopped before the rename, on a busy disk,
    it holds no lock restic would honour)."""
    try:
        return any(
            re.fullmatch(r"[0-9a-f]{64}", path.name) and path.stat().st_size
            for path in locks.iterdir()
        )
    except OSError:  # no locks folder yet, or a lock removed while looking
        return False


@contextlib.contextmanager
def _hold_silent_with_a_live_lock(env):
    """restic 0.16 and later skip a FIFO among the locks, but wait silently with --retry-lock
    while another process holds an exclusive lock: a `restic prune` stopped with SIGSTOP once
    its lock exists. backupctl's first attempt fails at once, `restic unlock` keeps the live
    lock, and the second attempt waits for it."""
    locks = env.root / "disk" / env.source / "locks"
    holder = env.start_restic_on_disk("prune")  # prune always locks exclusively
    try:
        until = time.monotonic() + 30
        while not _holds_a_lock(locks):
            assert holder.poll() is None, "restic prune ended before its lock was seen"
            assert time.monotonic() < until, "restic prune made no lock"
            time.sleep(0.005)
        holder.send_signal(signal.SIGSTOP)
        assert holder.poll() is None and _holds_a_lock(locks), "restic prune ended too soon"
        yield lambda process: _wait_for_restic_backup(process, marker=b"\x00--retry-lock\x00")
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait()


def test_restic_dies_with_a_killed_backupctl(backup_env):
    """restic writes progress many times a second and would die of SIGPIPE once backupctl's end
    of the pipe is gone; so that only the parent-death signal can end it, restic is held silent
    (a FIFO among the locks for 0.14, a live lock it waits for on newer ones)."""
    env = backup_env
    env.backupctl("init", check=True)
    # enough data that `restic prune` still holds its lock when it is stopped
    backup_env_module.write_tree(env.root / "data" / "big", files=40, size=1_000_000, seed=6)
    env.backupctl("backup", check=True)
    version = subprocess.run(
        (env.restic_binary, "version"), capture_output=True, text=True, check=True
    ).stdout
    older = version.startswith(("restic 0.14", "restic 0.15"))
    hold = _hold_silent_with_a_fifo(env) if older else _hold_silent_with_a_live_lock(env)
    restic = None
    with hold as wait_until_silent:
        process = subprocess.Popen(
            (
                str(backup_env_module.BACKUPCTL),
                "--config",
                str(env.config_path),
                "backup",
                "--quiet",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            restic = wait_until_silent(process)
            process.kill()  # SIGKILL: backupctl cannot forward anything
            process.wait(timeout=30)
            _wait_until_gone(restic, deadline=30)  # the kernel's parent-death signal ended it
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if restic is not None and _is_running(restic):
                os.kill(restic, signal.SIGKILL)  # the old code's leftover, not to block the session
