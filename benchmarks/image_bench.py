"""Benchmark `backupctl media image` against plain GNU ddrescue and dd.

1. Clean medium: a loop device over a file of random bytes (default 1 GiB). Compared, as the
   median of several runs with the page cache dropped before each (echo 3 > drop_caches):
   `dd bs=1M` to /dev/null (the read limit), `dd bs=1M` to an image file, plain ddrescue with
   exactly the argv `media image` uses (both runs), and `backupctl media image` itself
   (CLI start, job store, custody events, read-only flag, MD5 + SHA-256 of the image).
2. Faulty medium: the FUSE failing disk of tests/fixtures/faulty_disk.py (unreadable and slow
   regions); bytes rescued and time of plain ddrescue against `media image`.

Run as root from the repository root:
    .venv/bin/python benchmarks/image_bench.py [--size-mib 1024] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backupctl.actions import image as image_action
from recovery import ddrescue, image_hash
from recovery.jobs import JobStore
from tests.fixtures import faulty_disk

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


def plain_ddrescue(node: str, out: pathlib.Path, *, direct: bool) -> float:
    """Run the same ddrescue argv as `media image` (copy run, then scrape run); return seconds."""
    options = ddrescue.RescueOptions(sector_size=512, retries=1, direct=direct)
    image, mapfile = out / "plain.img", out / "plain.map"
    drop_caches()
    started = time.perf_counter()
    for phase in ddrescue.PHASES:
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
    for child in out.iterdir():
        child.unlink()


def median_of(runs: int, action, out: pathlib.Path) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        times.append(action())
        clean_up(out)
    return statistics.median(times), times


def clean_medium(work: pathlib.Path, size: int, runs: int) -> None:
    backing, out, state = work / "clean.img", work / "out", work / "state"
    out.mkdir()
    random_file(backing, size)
    node = subprocess.run(
        ("losetup", "--find", "--show", "--direct-io=off", "--sector-size", "512", str(backing)),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        rows = {
            "dd bs=1M of=/dev/null (read limit)": lambda: timed(
                ("dd", f"if={node}", "of=/dev/null", "bs=1M")
            ),
            "dd bs=1M of=image": lambda: timed(
                ("dd", f"if={node}", f"of={out / 'dd.img'}", "bs=1M")
            ),
            "plain ddrescue (same argv)": lambda: plain_ddrescue(node, out, direct=False),
            "media image action, in-process (with MD5+SHA-256)": lambda: media_image_in_process(
                node, out, state, direct=False
            ),
            "backupctl media image CLI (with MD5+SHA-256)": lambda: media_image(
                node, out, state, direct=False
            ),
        }
        print(
            f"\nclean {size // MIB} MiB loop device {node}, median of {runs} runs, page cache dropped before each"
        )
        print("| what | median s | MB/s | runs (s) |\n| --- | ---: | ---: | --- |")
        results = {}
        for name, action in rows.items():
            median, times = median_of(runs, action, out)
            results[name] = median
            print(
                f"| {name} | {median:.2f} | {size / median / 1e6:.0f} | {', '.join(f'{t:.2f}' for t in times)} |"
            )
        plain = results["plain ddrescue (same argv)"]
        for name in (
            "media image action, in-process (with MD5+SHA-256)",
            "backupctl media image CLI (with MD5+SHA-256)",
        ):
            print(f"\n{name} / plain ddrescue = {results[name] / plain:.3f} (goal <= 1.10)")
    finally:
        subprocess.run(("losetup", "--detach", node), check=False)


def faulty_medium(work: pathlib.Path, runs: int) -> None:
    directory, out, state = work / "faulty", work / "faulty-out", work / "faulty-state"
    directory.mkdir()
    out.mkdir()
    bad = [
        faulty_disk.Region(start * MIB, length)
        for start, length in ((5, 4096), (20, 64 * 1024), (41, 512), (60, 8192))
    ]
    slow = [faulty_disk.Region(30 * MIB, 4 * MIB, 0.01)]
    disk = faulty_disk.attach(directory, size=64 * MIB, bad=bad, slow=slow)
    try:
        print(
            f"\nfaulty 64 MiB FUSE disk {disk.node}: {len(bad)} bad regions "
            f"({sum(r.length for r in bad)} bytes), 4 MiB slow; --direct; median of {runs} runs"
        )
        print("| what | median s | bytes rescued | bad bytes |\n| --- | ---: | ---: | ---: |")
        for name, action, stem in (
            (
                "plain ddrescue (same argv)",
                lambda: plain_ddrescue(disk.node, out, direct=True),
                "plain",
            ),
            (
                "backupctl media image",
                lambda: media_image(disk.node, out, state, direct=True),
                None,
            ),
        ):
            times, rescued, bad_bytes = [], set(), set()
            for _ in range(runs):
                times.append(action())
                mapfile = next(out.glob("*.map")) if stem is None else out / f"{stem}.map"
                totals = image_hash.read_mapfile(mapfile).totals()
                rescued.add(totals.rescued)
                bad_bytes.add(totals.bad_sector)
                clean_up(out)
            print(
                f"| {name} | {statistics.median(times):.2f} | {sorted(rescued)} | {sorted(bad_bytes)} |"
            )
    finally:
        disk.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-faulty", action="store_true")
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("image_bench: needs root (losetup, drop_caches)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="image-bench-", dir="/var/tmp"))
    try:
        clean_medium(work, arguments.size_mib * MIB, arguments.runs)
        if not arguments.skip_faulty:
            faulty_medium(work, arguments.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
