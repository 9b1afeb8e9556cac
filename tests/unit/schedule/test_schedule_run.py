"""`schedule run JOB` pings start, then success or failure, on a real HTTP server on 127.0.0.1;
a ping that hangs is given up after its timeout and never changes the job's outcome; the ping
URL's path (often a secret token) never appears in the output."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time

import pytest

from tests.unit.schedule.conftest import BACKUPCTL


class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append((self.path, json.loads(self.rfile.read(length))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def ping_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _config(tmp_path, operations: str):
    (tmp_path / "state").mkdir(exist_ok=True)
    path = tmp_path / "backupctl.toml"
    path.write_text(
        f'[backupctl]\nstate_dir = "{tmp_path}/state"\nkeystore = "{tmp_path}/keystore.bin"\n'
        f'master_key_file = "{tmp_path}/master.key"\n\n[operations]\n{operations}'
    )
    return path


def _run(path, job):
    return subprocess.run(
        (str(BACKUPCTL), "--config", str(path), "schedule", "run", job),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _urls(server, token):
    base = f"http://127.0.0.1:{server.server_address[1]}"
    return (
        f'ping_start = "{base}/{token}/start"\nping_success = "{base}/{token}"\n'
        f'ping_failure = "{base}/{token}/fail"\n'
    )


def test_a_job_that_succeeds_pings_start_and_success(tmp_path, ping_server):
    path = _config(tmp_path, _urls(ping_server, "secret-token-1"))
    result = _run(path, "job-purge")  # the workshop's purge: nothing to purge, exits 0
    assert result.returncode == 0, result.stderr
    assert [(p, body["event"]) for p, body in ping_server.received] == [
        ("/secret-token-1/start", "start"),
        ("/secret-token-1", "success"),
    ]
    assert ping_server.received[1][1]["job"] == "job-purge"
    assert ping_server.received[1][1]["exit_code"] == 0


def test_a_job_that_fails_pings_failure_with_its_exit_code(tmp_path, ping_server):
    path = _config(tmp_path, _urls(ping_server, "secret-token-2"))
    result = _run(path, "rotate")  # no master key: the rotation cannot start
    assert result.returncode == 3, result.stderr
    assert [(p, body["event"]) for p, body in ping_server.received] == [
        ("/secret-token-2/start", "start"),
        ("/secret-token-2/fail", "failure"),
    ]
    assert ping_server.received[1][1]["exit_code"] == 3
    assert "secret-token-2" not in result.stdout + result.stderr


def test_an_unknown_job_is_refused_before_any_ping(tmp_path, ping_server):
    path = _config(tmp_path, _urls(ping_server, "t"))
    result = _run(path, "backup-nosuch")
    assert result.returncode == 2 and "no scheduled job 'backup-nosuch'" in result.stderr
    assert ping_server.received == []


def test_a_ping_that_hangs_is_given_up_and_the_job_still_succeeds(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hidden-token"
        path = _config(tmp_path, f'ping_start = "{url}"\nping_timeout_seconds = 1\n')
        started = time.monotonic()
        result = _run(path, "job-purge")
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert result.returncode == 0, result.stderr
    assert "ping to http://127.0.0.1:" in result.stderr and "failed" in result.stderr
    assert "hidden-token" not in result.stderr
    assert elapsed < 30
