"""An off-site location for benchmarks: a real OpenSSH server behind a link of a given speed.

The server runs in its own network namespace, joined to this host by a veth pair whose two ends
are shaped with a token bucket (``tc qdisc ... tbf``) to ``mbit`` megabits per second in each
direction. Restic then reads the repository over SFTP at the speed a restore from another site
would see, with ssh's encryption on both ends, instead of from the page cache. Needs root, ``ip``
and ``tc`` (iproute2) and the kernel's veth and tbf; nothing on 127.0.0.1 is touched, so tests
running beside it are not slowed.

    with shaped_link.remote_sshd(directory, mbit=1000) as server:
        ...  # server.host, server.port, server.identity_file, server.known_hosts
"""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
from collections.abc import Iterator

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.fixtures import sshd  # noqa: E402

NAMESPACE = "bctl-bench-far"
HOST_SIDE, FAR_SIDE = "bctlb0", "bctlb1"
HOST_ADDRESS, FAR_ADDRESS = "10.213.47.1", "10.213.47.2"
IN_NAMESPACE = ("ip", "netns", "exec", NAMESPACE)


def _run(*args: str, inside: bool = False) -> None:
    """Run a command here, or with ``inside`` in the far side's namespace; fail loudly."""
    subprocess.run((*(IN_NAMESPACE if inside else ()), *args), check=True, stdin=subprocess.DEVNULL)


def _shape(device: str, mbit: int, *, inside: bool) -> None:
    """Egress of ``device`` at ``mbit``: a bucket of 1 ms of traffic at least 64 KiB, and a queue
    of at most 20 ms (a switch port's, not a bufferbloated modem's)."""
    burst = max(64 * 1024, mbit * 1000 // 8)
    _run(
        "tc", "qdisc", "add", "dev", device, "root", "tbf",
        "rate", f"{mbit}mbit", "burst", str(burst), "latency", "20ms",
        inside=inside,
    )  # fmt: skip


def _remove() -> None:
    subprocess.run(("ip", "link", "del", HOST_SIDE), capture_output=True, check=False)
    subprocess.run(("ip", "netns", "del", NAMESPACE), capture_output=True, check=False)


@contextlib.contextmanager
def remote_sshd(directory: pathlib.Path, *, mbit: int) -> Iterator[sshd.SshServer]:
    """Given an empty directory and a link speed, yield a running sshd behind that link; the
    namespace, the link and the server are gone afterwards (also after a failure)."""
    _remove()  # what a killed earlier run left
    try:
        _run("ip", "netns", "add", NAMESPACE)
        _run("ip", "link", "add", HOST_SIDE, "type", "veth", "peer", "name", FAR_SIDE)
        _run("ip", "link", "set", FAR_SIDE, "netns", NAMESPACE)
        _run("ip", "addr", "add", f"{HOST_ADDRESS}/30", "dev", HOST_SIDE)
        _run("ip", "addr", "add", f"{FAR_ADDRESS}/30", "dev", FAR_SIDE, inside=True)
        _run("ip", "link", "set", HOST_SIDE, "up")
        _run("ip", "link", "set", FAR_SIDE, "up", inside=True)
        _run("ip", "link", "set", "lo", "up", inside=True)
        _shape(HOST_SIDE, mbit, inside=False)
        _shape(FAR_SIDE, mbit, inside=True)
        server, process = sshd.start_sshd(directory, address=FAR_ADDRESS, prefix=IN_NAMESPACE)
        try:
            yield server
        finally:
            process.terminate()
            process.wait(timeout=10)
    finally:
        _remove()
