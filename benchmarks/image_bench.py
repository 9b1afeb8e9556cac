"""Benchmark `backupctl media image` against plain GNU ddrescue and dd.

1. Clean medium: a loop device over a file of random bytes (default 1 GiB). Compared, as the
   median of several runs with the page cache dropped before each (echo 3 > drop_caches):
   `dd bs=1M` to /dev/null (the read limit), `dd bs=1M` to an image file, plain ddrescue with
   exactly the argv `media image` uses (both runs), and `backupctl media image` itself
   (CLI start, job store, custody events, read-only flag, MD5 + SHA-256 of the image).
2. Faulty medium: the FUSE failing disk of tests/fixtures/faulty_disk.py (unreadable and slow
   regions); bytes rescued and time of plain ddrescue against `media image`.
3. Slow medium: the same FUSE disk without faults, every read delayed (default 128 MiB, 2 ms a
   read: about 30 MB/s, a USB stick), so the medium, not MD5, sets the pace, as with real media.

Run as root from the repository root:
    .venv/bin/python benchmarks/image_bench.py [--size-mib 1024] [--runs 5]
    .venv/bin/python benchmarks/image_bench.py --split --runs 3    # where the time goes
    .venv/bin/python benchmarks/image_bench.py --slow-only --runs 3 \\
        [--slow-size-mib 128 --slow-ms 2]
    .venv/bin/python benchmarks/image_bench.py --hash-only --runs 5   # MD5, SHA-256, both
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Run as a script, so the repository root is not on sys.path; tests/ is not an installed package
# (and this checkout's packages, not another's, are the ones measured): the imports follow.
sys.path.insert(0, str(ROOT))

from backupctl.actions import image as image_action  # noqa: E402 - needs ROOT on sys.path
from recovery import ddrescue, image_hash  # noqa: E402 - needs ROOT on sys.path
from recovery.jobs import JobStore  # noqa: E402 - needs ROOT on sys.path
from tests.fixtures import faulty_disk  # noqa: E402 - needs ROOT on sys.path

MIB = 1024 * 1024
BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"


def drop_caches() -> None:
    subprocess.run(("sync",), check=True)
    pathlib.Path("/proc/sys/vm/drop_caches").write_text("3\n")


def timed(argv, **kwargs) -> float:
    drop_caches()
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - started


def random_file(path: pathlib.Path, size: int) -> None:
    with open(path, "wb") as stream:
        stream.writelines(os.urandom(16 * MIB) for _ in range(size // (16 * MIB)))


def plain_ddrescue(
    node: str, out: pathlib.Path, *, direct: bool, phases: tuple[str, ...] = ddrescue.PHASES
) -> float:
    """Run the same ddrescue argv as `media image` (copy run, then scrape run); return seconds."""
    options = ddrescue.RescueOptions(sector_size=512, retries=1, direct=direct)
    image, mapfile = out / "plain.img", out / "plain.map"
    drop_caches()
    started = time.perf_counter()
    for phase in phases:
        argv = ddrescue.phase_argv(phase, node, str(image), str(mapfile), options=options)
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def media_image(node: str, out: pathlib.Path, state: pathlib.Path, *, direct: bool) -> float:
    store = JobStore(state / "state.db", state / "jobs")
    job = store.open_job(
        customer="bench", consent_ref="bench", ticket=None, note=None, actor="bench", host="bench"
    )
    argv = [
        str(BACKUPCTL),
        "media",
        "image",
        node,
        "--job",
        job.job_id,
        "--out",
        str(out),
        "--quiet",
    ]
    argv += ["--direct"] if direct else []
    environment = {
        **os.environ,
        "BACKUPCTL_STATE_DIR": str(state),
        "BACKUPCTL_CONFIG": "/nonexistent",
    }
    return timed(argv, env=environment, cwd=ROOT)


def media_image_in_process(
    node: str, out: pathlib.Path, state: pathlib.Path, *, direct: bool
) -> float:
    """The same action without the CLI's Python start-up (imports of every command group)."""
    store = JobStore(state / "state.db", state / "jobs")
    job = store.open_job(
        customer="bench", consent_ref="bench", ticket=None, note=None, actor="bench", host="bench"
    )
    request = image_action.Request(job.job_id, node, out_dir=out, direct=direct)
    drop_caches()
    started = time.perf_counter()
    image_action.image(store, request, image_action.Who("bench", "bench", (str(state),)))
    return time.perf_counter() - started


def clean_up(out: pathlib.Path) -> None:
    """Remove what a row left in ``out`` (`media image --out` writes into ``out/J/``)."""
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def round_robin(rows: dict, runs: int, out: pathlib.Path) -> dict[str, list[float]]:
    """Run every row once per round, for ``runs`` rounds, so load changes hit all rows alike."""
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(runs):
        for name, action in rows.items():
            times[name].append(action())
            clean_up(out)
    return times


def attach_loop(backing: pathlib.Path) -> str:
    """Attach ``backing`` to a free loop device with 512-byte sectors; return its node."""
    return subprocess.run(
        ("losetup", "--find", "--show", "--direct-io=off", "--sector-size", "512", str(backing)),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


BLKIO = pathlib.Path("/sys/fs/cgroup/blkio")


@contextlib.contextmanager
def throttled(node: str, mbps: float | None) -> Iterator[None]:
    """While the block runs, limit reads from ``node`` to ``mbps`` MB/s for this process and its
    children (cgroup v1 blkio throttling), so a loop device served from the host's cache reads
    at a real disk's speed; None: no limit."""
    if not mbps:
        yield
        return
    group = BLKIO / "backupctl-image-bench"
    group.mkdir(exist_ok=True)
    device = os.stat(node).st_rdev
    (group / "blkio.throttle.read_bps_device").write_text(
        f"{os.major(device)}:{os.minor(device)} {int(mbps * 1e6)}\n"
    )
    (group / "cgroup.procs").write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        (BLKIO / "cgroup.procs").write_text(f"{os.getpid()}\n")
        group.rmdir()


def clean_medium(work: pathlib.Path, size: int, runs: int, mbps: float | None = None) -> None:
    backing, out, state = work / "clean.img", work / "out", work / "state"
    out.mkdir()
    random_file(backing, size)
    node = attach_loop(backing)
    rows = {
        "dd bs=1M of=/dev/null (read limit)": lambda: timed(
            ("dd", f"if={node}", "of=/dev/null", "bs=1M")
        ),
        "dd bs=1M of=image file": lambda: timed(
            ("dd", f"if={node}", f"of={out / 'dd.img'}", "bs=1M")
        ),
        "plain ddrescue, copy run only": lambda: plain_ddrescue(
            node, out, direct=False, phases=("copy",)
        ),
        "plain ddrescue, copy + scrape runs": lambda: plain_ddrescue(node, out, direct=False),
        IN_PROCESS: lambda: media_image_in_process(node, out, state, direct=False),
        CLI: lambda: media_image(node, out, state, direct=False),
    }
    try:
        with throttled(node, mbps):
            times = round_robin(rows, runs, out)
    finally:
        subprocess.run(("losetup", "--detach", node), check=False)
    limit = f", reads limited to {mbps:g} MB/s (blkio)" if mbps else ""
    print(
        f"\nclean {size // MIB} MiB loop device{limit}, median of {runs} rounds,"
        " page cache dropped before each run"
    )
    print("| what | median s | MB/s | runs (s) |\n| --- | ---: | ---: | --- |")
    for name, values in times.items():
        median = statistics.median(values)
        runs_text = ", ".join(f"{value:.2f}" for value in values)
        print(f"| {name} | {median:.2f} | {size / median / 1e6:.0f} | {runs_text} |")
    for name in (IN_PROCESS, CLI):
        for plain in ("plain ddrescue, copy run only", "plain ddrescue, copy + scrape runs"):
            ratio = statistics.median(times[name]) / statistics.median(times[plain])
            per_round = sorted(a / b for a, b in zip(times[name], times[plain], strict=True))
            print(
                f"{name} / {plain}: {ratio:.3f} (goal <= 1.10); per round: median"
                f" {statistics.median(per_round):.3f}, range {per_round[0]:.3f}-{per_round[-1]:.3f}"
            )


IN_PROCESS = "media image action in-process (MD5+SHA-256 included)"
CLI = "backupctl media image CLI (MD5+SHA-256 included)"


def faulty_medium(work: pathlib.Path, runs: int) -> None:
    """Bytes rescued, bad bytes, image SHA-256 and time: plain ddrescue against media image."""
    directory, out, state = work / "faulty", work / "faulty-out", work / "faulty-state"
    directory.mkdir()
    out.mkdir()
    spots = ((5, 4096), (20, 64 * 1024), (41, 512), (60, 8192))
    bad = [faulty_disk.Region(start * MIB, length) for start, length in spots]
    slow = [faulty_disk.Region(30 * MIB, 4 * MIB, 0.01)]
    disk = faulty_disk.attach(directory, size=64 * MIB, bad=bad, slow=slow)
    rows = {
        "plain ddrescue, copy + scrape runs": lambda: plain_ddrescue(disk.node, out, direct=True),
        IN_PROCESS: lambda: media_image_in_process(disk.node, out, state, direct=True),
        CLI: lambda: media_image(disk.node, out, state, direct=True),
    }
    outcomes: dict[str, list[tuple[float, int, int, str]]] = {name: [] for name in rows}
    try:
        for _ in range(runs):
            for name, action in rows.items():
                seconds = action()
                totals = image_hash.read_mapfile(next(out.rglob("*.map"))).totals()
                digest = image_hash.hash_file(next(out.rglob("*.img"))).sha256[:16]
                outcomes[name].append((seconds, totals.rescued, totals.bad_sector, digest))
                clean_up(out)
    finally:
        disk.detach()
    print(
        f"\nfaulty 64 MiB FUSE disk: {len(bad)} bad regions ({sum(r.length for r in bad)} bytes),"
        f" 4 MiB slow (10 ms a read); --direct; median of {runs} rounds"
    )
    print("| what | median s | bytes rescued | bad bytes | image SHA-256 (first 16) |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, values in outcomes.items():
        median = statistics.median(value[0] for value in values)
        rescued, bad_bytes, digests = ({value[k] for value in values} for k in (1, 2, 3))
        print(
            f"| {name} | {median:.2f} | {sorted(rescued)} | {sorted(bad_bytes)}"
            f" | {sorted(digests)} |"
        )


def slow_medium(work: pathlib.Path, runs: int, *, size_mib: int, milliseconds: float) -> None:
    """A medium slower than MD5: does `media image` then cost no more than ddrescue alone?"""
    directory, out, state = work / "slow", work / "slow-out", work / "slow-state"
    directory.mkdir()
    out.mkdir()
    size = size_mib * MIB
    slow = [faulty_disk.Region(0, size, milliseconds / 1000)]
    disk = faulty_disk.attach(directory, size=size, slow=slow)
    rows = {
        "plain ddrescue, copy + scrape runs": lambda: plain_ddrescue(disk.node, out, direct=True),
        IN_PROCESS: lambda: media_image_in_process(disk.node, out, state, direct=True),
        CLI: lambda: media_image(disk.node, out, state, direct=True),
    }
    try:
        times = round_robin(rows, runs, out)
    finally:
        disk.detach()
    print(
        f"\nslow {size_mib} MiB FUSE disk, every read delayed {milliseconds} ms, --direct,"
        f" median of {runs} rounds"
    )
    print("| what | median s | MB/s | runs (s) |\n| --- | ---: | ---: | --- |")
    for name, values in times.items():
        median = statistics.median(values)
        runs_text = ", ".join(f"{value:.2f}" for value in values)
        print(f"| {name} | {median:.2f} | {size / median / 1e6:.0f} | {runs_text} |")
    plain = "plain ddrescue, copy + scrape runs"
    for name in (IN_PROCESS, CLI):
        ratio = statistics.median(times[name]) / statistics.median(times[plain])
        per_round = sorted(a / b for a, b in zip(times[name], times[plain], strict=True))
        print(
            f"{name} / {plain}: {ratio:.3f} (goal <= 1.10); per round: median"
            f" {statistics.median(per_round):.3f}, range {per_round[0]:.3f}-{per_round[-1]:.3f}"
        )


def hash_only(work: pathlib.Path, size: int, runs: int) -> None:
    """MD5 alone, SHA-256 alone and the toolkit's hasher (both) over one file in the page cache."""
    path = work / "hash.bin"
    random_file(path, size)
    image_hash.hash_file(path)  # into the page cache

    def one(name: str) -> float:
        digest, buffer = hashlib.new(name), bytearray(image_hash.CHUNK)
        started = time.perf_counter()
        with open(path, "rb", buffering=0) as stream:
            while count := stream.readinto(buffer):
                digest.update(memoryview(buffer)[:count])
        return time.perf_counter() - started

    def both() -> float:
        started = time.perf_counter()
        image_hash.hash_file(path)
        return time.perf_counter() - started

    rows = {"MD5 alone": lambda: one("md5"), "SHA-256 alone": lambda: one("sha256"), "both": both}
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(runs):
        for name, action in rows.items():
            times[name].append(action())
    print(f"\nhashes of {size // MIB} MiB from the page cache, {runs} rounds")
    print("| what | median s | runs (s) |\n| --- | ---: | --- |")
    for name, values in times.items():
        runs_text = ", ".join(f"{value:.2f}" for value in values)
        print(f"| {name} | {statistics.median(values):.2f} | {runs_text} |")


class _NoHash(image_hash.FollowingHasher):
    """For the split measurement only: the action with the hashing switched off."""

    def follow(self, current, *, budget_seconds: float = 0.5) -> None:
        pass

    def finish(self) -> image_hash.Digests:
        return image_hash.Digests("", "", 0)


def split(work: pathlib.Path, size: int, runs: int) -> None:
    """Where the time of `media image` goes: wrapper without hashing, with hashing, hash alone."""
    backing, out, state = work / "split.img", work / "split-out", work / "split-state"
    out.mkdir()
    random_file(backing, size)
    node = attach_loop(backing)

    def without_hashing() -> float:
        original = image_action.image_run.image_hash.FollowingHasher
        image_action.image_run.image_hash.FollowingHasher = _NoHash
        try:
            return media_image_in_process(node, out, state, direct=False)
        finally:
            image_action.image_run.image_hash.FollowingHasher = original

    def hash_alone() -> float:
        subprocess.run(
            ("dd", f"if={node}", f"of={out / 'h.img'}", "bs=1M"), check=True, capture_output=True
        )
        started = time.perf_counter()
        image_hash.hash_file(out / "h.img")
        return time.perf_counter() - started

    rows = {
        "plain ddrescue, copy run only": lambda: plain_ddrescue(
            node, out, direct=False, phases=("copy",)
        ),
        "media image action, hashing switched off": without_hashing,
        "media image action, MD5 + SHA-256": lambda: media_image_in_process(
            node, out, state, direct=False
        ),
        "MD5 + SHA-256 of the image alone, from the page cache": hash_alone,
    }
    try:
        times = round_robin(rows, runs, out)
    finally:
        subprocess.run(("losetup", "--detach", node), check=False)
    print(f"\nsplit, clean {size // MIB} MiB loop device, median of {runs} rounds")
    print("| what | median s | runs (s) |\n| --- | ---: | --- |")
    for name, values in times.items():
        runs_text = ", ".join(f"{value:.2f}" for value in values)
        print(f"| {name} | {statistics.median(values):.2f} | {runs_text} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-faulty", action="store_true")
    parser.add_argument("--split", action="store_true", help="only: where the time goes")
    parser.add_argument("--slow-only", action="store_true", help="only: the slow medium")
    parser.add_argument("--hash-only", action="store_true", help="only: the two digests")
    parser.add_argument("--slow-size-mib", type=int, default=128, help="at most 255 (the fixture)")
    parser.add_argument("--slow-ms", type=float, default=2.0, help="delay of every read (ms)")
    parser.add_argument(
        "--throttle-mbps",
        type=float,
        default=None,
        help="clean medium: limit its reads to this many MB/s (cgroup v1 blkio), as a real disk",
    )
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("image_bench: needs root (losetup, drop_caches)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="image-bench-", dir="/var/tmp"))
    try:
        if arguments.split:
            split(work, arguments.size_mib * MIB, arguments.runs)
            return
        if arguments.hash_only:
            hash_only(work, arguments.size_mib * MIB, arguments.runs)
            return
        slow = {"size_mib": arguments.slow_size_mib, "milliseconds": arguments.slow_ms}
        if arguments.slow_only:
            slow_medium(work, arguments.runs, **slow)
            return
        clean_medium(work, arguments.size_mib * MIB, arguments.runs, arguments.throttle_mbps)
        if not arguments.skip_faulty:
            faulty_medium(work, arguments.runs)
            slow_medium(work, arguments.runs, **slow)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
