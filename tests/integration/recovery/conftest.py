"""Shared set-up of the recovery integration tests: a job store with one open job."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable

import pytest

from backupctl.actions import image as image_action
from recovery.jobs import JobStore


@pytest.fixture
def state(tmp_path):
    """A job store in a fresh state directory, and one open job."""
    state_dir = tmp_path / "state"
    store = JobStore(state_dir / "state.db", state_dir / "jobs")
    job = store.open_job(
        customer="C-1001",
        consent_ref="CONSENT-7",
        ticket="T-1",
        note=None,
        actor="tech",
        host="bench",
    )
    return store, job, state_dir


def who(state_dir) -> image_action.Who:
    return image_action.Who("tech", "bench", (str(state_dir),))


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll ``condition`` every 50 ms until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def processes_with_argument(argument: str) -> list[int]:
    """Return the pids of the processes whose command line contains ``argument``."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        if argument.encode() in arguments:
            found.append(int(entry.name))
    return found
