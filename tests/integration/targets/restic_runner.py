"""Run the real restic binary against a store, the way the orchestration layer will: repository,
options and environment from the store, the password through a pipe (never argv/env)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

RESTIC = "/usr/bin/restic"


def run_restic(
    store, *arguments: str, password: str, home: pathlib.Path, restic: str = RESTIC
) -> subprocess.CompletedProcess:
    """Run ``restic -r <repo> <options> --password-file /dev/fd/N --no-cache <arguments>`` with
    the password written into a pipe whose read end is fd N in restic (pass_fds);
    raise AssertionError with restic's stderr when it fails."""
    read_end, write_end = os.pipe()
    argv = (
        restic,
        "-r",
        store.restic_repository(),
        *store.restic_options(),
        "--password-file",
        f"/dev/fd/{read_end}",
        "--no-cache",
        *arguments,
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        **store.restic_environment(),
    }
    try:
        os.write(write_end, password.encode() + b"\n")
        os.close(write_end)
        result = subprocess.run(
            argv,
            check=False,
            env=environment,
            pass_fds=(read_end,),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(read_end)
    assert result.returncode == 0, (
        f"restic {arguments[0]} failed ({result.returncode}): {result.stderr}"
    )
    return result


def snapshot_count(store, *, password: str, home: pathlib.Path, restic: str = RESTIC) -> int:
    """Return how many snapshots restic lists in the store's repository."""
    result = run_restic(store, "snapshots", "--json", password=password, home=home, restic=restic)
    return len(json.loads(result.stdout))
