"""`media watch` and udev_source.watch follow a real udevd as loop devices come and go."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import pytest

from backupctl.actions import media as media_actions
from backupctl.audit import log
from recovery import udev_source
from recovery.jobs import JobStore
from tests.fixtures import loopdev
from tests.integration.recovery.conftest import wait_until

pytestmark = [pytest.mark.root, loopdev.needs_loop]
BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"


def start_cli(state_dir: pathlib.Path, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "BACKUPCTL_STATE_DIR": str(state_dir),
        "BACKUPCTL_CONFIG": str(state_dir / "absent.toml"),
    }
    return subprocess.Popen(
        (str(BACKUPCTL), *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 15) -> None:
    """Block until the process writes ``text`` on stderr (its "watching" banner)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if text in line:
            return
    pytest.fail(f"no {text!r} on stderr")


class Collector(threading.Thread):
    """Runs udev_source.watch in the background and keeps the events for one node."""

    def __init__(self, timeout: float) -> None:
        super().__init__(daemon=True)
        self.timeout, self.events, self.ready = timeout, [], threading.Event()
        self.node: str | None = None  # stop once this node was removed

    def run(self) -> None:
        for action, device in udev_source.watch(
            timeout=self.timeout, settle=0.3, on_ready=self.ready.set
        ):
            self.events.append((action, device))
            if action == udev_source.REMOVED and device.node == self.node:
                return


def test_watch_reports_appear_and_remove(tmp_path, make_loop, udevd):
    image = loopdev.build_partitioned_image(tmp_path / "disk.img")
    collector = Collector(timeout=15)
    collector.start()
    assert collector.ready.wait(timeout=15)
    node = make_loop(image, partscan=True)
    collector.node = node
    wait_until(
        lambda: any(device.node == node for _, device in collector.events),
        timeout=15,
        what=f"udev to report {node} appearing",
    )
    loopdev.detach_loop(node)
    collector.join(timeout=20)
    mine = [(action, device) for action, device in collector.events if device.node == node]
    assert [action for action, _ in mine][:1] == ["appeared"] and mine[-1][0] == "removed"
    appeared = mine[0][1]
    assert appeared.kind == "loop" and appeared.size_bytes == 32 * 1024 * 1024


def read_events_until(process: subprocess.Popen, node: str, action: str) -> list[tuple[str, str]]:
    """Read JSON event lines until ``action`` for ``node``; return this node's (action, node)
    pairs."""
    seen = []
    for line in process.stdout:
        event = json.loads(line)
        if event["device"]["node"] == node:  # other test sessions may attach loop devices too
            seen.append((event["action"], node))
        if seen and seen[-1] == (action, node):
            break
    return seen


def test_cli_watch_json_shows_appear_and_remove(tmp_path, make_loop, udevd):
    image = loopdev.build_blank_image(tmp_path / "stick.img", size_mib=4)
    process = start_cli(tmp_path, "media", "watch", "--json", "--timeout", "30")
    try:
        wait_for_line(process, "watching")
        node = make_loop(image)
        assert read_events_until(process, node, "appeared") == [("appeared", node)]
        loopdev.detach_loop(node)
        assert read_events_until(process, node, "removed") == [("removed", node)]
    finally:
        process.kill()
        process.communicate(timeout=15)


def test_cli_watch_count_stops_after_that_many_events(tmp_path, make_loop, udevd):
    image = loopdev.build_blank_image(tmp_path / "stick.img", size_mib=4)
    process = start_cli(tmp_path, "media", "watch", "--json", "--timeout", "30", "--count", "1")
    try:
        wait_for_line(process, "watching")
        make_loop(image)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert [json.loads(line)["action"] for line in stdout.splitlines()] == ["appeared"]


def test_cli_watch_timeout_ends_the_watch(tmp_path, udevd):
    started = time.monotonic()
    process = start_cli(tmp_path, "media", "watch", "--timeout", "1")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert time.monotonic() - started >= 1


def test_cli_watch_attaches_first_medium_to_job(tmp_path, make_loop, udevd):
    store = JobStore(tmp_path / "state.db", tmp_path / "jobs")
    job = store.open_job(
        customer="ACME", consent_ref="CF-1", ticket=None, note=None, actor="t", host="h"
    )
    image = loopdev.build_blank_image(tmp_path / "stick.img", size_mib=4)
    process = start_cli(tmp_path, "media", "watch", "--attach-to", job.job_id, "--timeout", "20")
    try:
        wait_for_line(process, "watching")
        node = make_loop(image)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert f"attached {node} to job {job.job_id}" in stdout
    assert store.get(job.job_id).medium.node == node
    assert store.events(job.job_id)[-1].kind == "medium.attached"
    mirrored = [(record.action, record.subjects) for record in log.records(tmp_path / "state.db")]
    assert ("custody.medium.attached", {"job": job.job_id}) in mirrored  # docs/audit.md


def test_cli_watch_stops_cleanly_on_ctrl_c(tmp_path, udevd):
    process = start_cli(tmp_path, "media", "watch")
    try:
        wait_for_line(process, "watching")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "Traceback" not in stderr and "interrupted" in stderr


def test_cli_watch_unknown_job_fails_at_once(tmp_path, udevd):
    process = start_cli(
        tmp_path, "media", "watch", "--attach-to", "J-19990101-001", "--timeout", "30"
    )
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 2 and "no repair job" in stderr


class ChooseFirst:
    """An injected mediator standing in for the technician: picks the first waiting job."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def choose_job(self, device, waiting):
        self.asked.append(device.node)
        return waiting[0].job_id


def test_mediator_chooses_a_waiting_job(tmp_path, make_loop, udevd):
    store = JobStore(tmp_path / "state.db", tmp_path / "jobs")
    job = store.open_job(
        customer="ACME", consent_ref="CF-1", ticket=None, note=None, actor="t", host="h"
    )
    mediator = ChooseFirst()
    ready = threading.Event()
    events = media_actions.watch_media(
        state_dir=tmp_path,
        job_store=store,
        timeout=10,
        count=None,
        attach_to=None,
        mediator=mediator,
        actor="t",
        host="h",
        on_ready=ready.set,
    )
    results = []

    def consume():
        for event in events:
            results.append(event)
            if event.action == "attached":
                break

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert ready.wait(timeout=15)
    node = make_loop(loopdev.build_blank_image(tmp_path / "card.img", size_mib=4))
    thread.join(timeout=20)
    attached = [event for event in results if event.action == "attached"]
    assert attached and attached[0].device.node == node and attached[0].job.job_id == job.job_id
    assert mediator.asked and store.get(job.job_id).medium.node == node
