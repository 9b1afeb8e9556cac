"""Write, read and remove the scheduled jobs' files: root-only, atomically, never through a
symlink, and only files backupctl wrote (they carry the marker line)."""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import stat
import subprocess
from collections.abc import Mapping

from backupctl.errors import BackupctlError
from backupctl.keys import securefile
from backupctl.schedule.units import MARKER, UNIT_PREFIX

logger = logging.getLogger(__name__)

READ_LIMIT = 256 * 1024
SYSTEMD_RUNNING = pathlib.Path("/run/systemd/system")  # sd_booted(): systemd is PID 1
SYSTEMCTL_SECONDS = 120


class ScheduleError(BackupctlError):
    """The schedule cannot be written or read where it must be."""


def installed_units(unit_dir: pathlib.Path) -> dict[str, str]:
    """Given the unit directory, return the backupctl unit files in it (name -> text); a file
    without the marker, or not a regular file, is not ours and left out."""
    found = {}
    try:
        names = sorted(os.listdir(unit_dir))
    except FileNotFoundError:
        return {}
    for name in names:
        if name.startswith(UNIT_PREFIX) and name.endswith((".service", ".timer")):
            text = read_ours(unit_dir / name)
            if text is not None:
                found[name] = text
    return found


def read_ours(path: pathlib.Path) -> str | None:
    """Return the text of a file backupctl wrote, or None when absent, not a regular file or
    without the marker."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        text = securefile.read_bounded(path, limit=READ_LIMIT, what="schedule file").decode()
    except (OSError, UnicodeDecodeError, BackupctlError):
        return None
    return text if text.startswith(MARKER) else None


def write_files(directory: pathlib.Path, files: Mapping[str, str]) -> None:
    """Given a directory and file texts, write each atomically, root-only (0600), replacing only
    regular files; raise ScheduleError when the directory is missing or a path is unsafe."""
    if not directory.is_dir() or directory.is_symlink():
        raise ScheduleError(f"{directory}: not a directory (set operations.unit_dir/cron_file)")
    for name, text in files.items():
        try:
            securefile.write_atomic(directory / name, text.encode(), mode=0o600, what="unit file")
        except OSError as error:
            raise ScheduleError(f"cannot write {directory / name}: {error}") from None


def remove_files(directory: pathlib.Path, names: list[str]) -> list[str]:
    """Given file names backupctl wrote, remove those still carrying the marker; return them."""
    removed = []
    for name in names:
        if read_ours(directory / name) is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / name)
            removed.append(name)
    return removed


def systemd_running() -> bool:
    return SYSTEMD_RUNNING.is_dir()


def systemctl(*arguments: str) -> None:
    """Run ``systemctl ARGS``; raise ScheduleError when it fails or takes too long."""
    argv = ("systemctl", *arguments)
    logger.info("running %s", " ".join(argv))
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True, timeout=SYSTEMCTL_SECONDS)
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or "").strip().splitlines()[-1:] or [""]
        raise ScheduleError(f"{' '.join(argv)} failed: {detail[0][:300]}") from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ScheduleError(f"{' '.join(argv)}: {error}") from None
