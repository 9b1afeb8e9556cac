"""Keep the master secret and the keys derived from it out of core dumps.

:func:`forbid_core_dumps` sets RLIMIT_CORE to 0 (soft and hard) and marks the process not
dumpable (``prctl(PR_SET_DUMPABLE, 0)``), which also stops other processes of the same user
from attaching with ptrace or reading ``/proc/<pid>/mem``. Both hold until the process exits;
children inherit the rlimit, and an ``execve`` (restic) makes the child dumpable again, which
is harmless: restic never sees the master secret. It is called where the master secret enters
the process and where a key is derived from it, so every process that opens a keystore is covered.
"""

from __future__ import annotations

import ctypes
import logging
import resource
import sys

logger = logging.getLogger(__name__)

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def forbid_core_dumps() -> None:
    """Make this process write no core dump and refuse ptrace by others; idempotent. A platform
    without prctl (not Linux) gets the rlimit only, and a warning."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError) as error:  # pragma: no cover - lowering a limit always works
        logger.warning("cannot disable core dumps (RLIMIT_CORE): %s", error)
    if _prctl(PR_SET_DUMPABLE, 0) != 0:
        logger.warning("cannot mark the process non-dumpable; a core dump could hold key material")


def is_dumpable() -> int:
    """Return prctl(PR_GET_DUMPABLE): 0 not dumpable, 1 dumpable (-1 where prctl is missing)."""
    return _prctl(PR_GET_DUMPABLE, 0)


def _prctl(option: int, argument: int) -> int:
    if not sys.platform.startswith("linux"):  # pragma: no cover - Linux only in this project
        return -1
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, ctypes.c_ulong(argument), 0, 0, 0))
