"""Backup benchmark (issue 2): backupctl against plain restic, and the cost of extra locations.

Builds a deterministic tree (default about 1 GiB in about 10,000 files: a few large files, many
small ones, incompressible content from a seeded AES-CTR keystream, so every run backs up the same
bytes), then, for each run on fresh repositories, times:

- ``restic backup`` alone, with the argv backupctl itself builds (same tags, excludes, ``--json``,
  cache dir, password from a file, same environment);
- ``backupctl backup --quiet`` with one local location, and with three;
- ``restic copy`` of the plain repository to one more (fresh) repository: the peer reference for
  what a second location costs when restic does the copying;

first as a full backup, then as an incremental one after 1% of the files changed. The order of the
timed commands rotates from run to run, the page cache is dropped before every timed command when
running as root, and the table shows medians. Results also go to ``benchmarks/results/`` as JSON.

Run: ``.venv/bin/python benchmarks/backup_bench.py [--size-mib 1024] [--files 10000] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import math
import os
import pathlib
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backupctl import config
from backupctl.actions import backup as backup_action
from backupctl.keys import master_secret
from backupctl.restic import commands, execute, operations
from backupctl.restic.flags import Repository

ROOT = pathlib.Path(__file__).resolve().parent
BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
TREE_FORMAT = 1  # bump when the tree layout changes, so a cached tree is rebuilt
LARGE_FILES = 4
LARGE_SHARE = 0.4  # of the bytes, in the few large files
CHANGED_SHARE = 0.01  # of the files, rewritten before the incremental backup
PASSWORD = "benchmark-password-not-secret"
VARIANTS = ("restic", "backupctl-1", "backupctl-3")


# ---------------------------------------------------------------- the tree


def plan_tree(size: int, files: int, seed: int) -> list[tuple[str, int]]:
    """Given a total size, a file count and a seed, return (relative path, size) of every file:
    ``LARGE_FILES`` files holding ``LARGE_SHARE`` of the bytes, the rest log-uniform in size."""
    rng = random.Random(seed)
    small_count = max(1, files - LARGE_FILES)
    large_bytes = int(size * LARGE_SHARE) if files > LARGE_FILES else 0
    weights = [math.exp(rng.uniform(math.log(512), math.log(2 << 20))) for _ in range(small_count)]
    scale = (size - large_bytes) / sum(weights)
    sizes = [max(1, int(weight * scale)) for weight in weights]
    entries = [
        (f"d{index % 100:02d}/s{index // 100:02d}/f{index:05d}.bin", sizes[index])
        for index in range(small_count)
    ]
    if large_bytes:
        entries += [
            (f"large/big{index}.bin", large_bytes // LARGE_FILES) for index in range(LARGE_FILES)
        ]
    return entries


def content(seed: int, path: str, size: int, version: int) -> bytes:
    """Return ``size`` pseudo-random bytes, fixed by (seed, path, version): AES-CTR of zeros."""
    key = hashlib.sha256(f"{seed}:{path}:{version}".encode()).digest()
    encryptor = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    return encryptor.update(bytes(size)) + encryptor.finalize()


def build_tree(tree: pathlib.Path, entries: list[tuple[str, int]], seed: int) -> bool:
    """Make ``tree`` hold exactly ``entries`` (version 0); return False when a cached one fits."""
    manifest = tree.parent / "tree-manifest.json"
    wanted = {
        "format": TREE_FORMAT,
        "seed": seed,
        "digest": hashlib.sha256(json.dumps(entries).encode()).hexdigest(),
    }
    if tree.is_dir() and manifest.is_file() and json.loads(manifest.read_text()) == wanted:
        return False
    shutil.rmtree(tree, ignore_errors=True)
    manifest.unlink(missing_ok=True)
    for path, size in entries:
        write_file(tree, path, content(seed, path, size, 0))
    manifest.write_text(json.dumps(wanted))
    return True


def write_file(tree: pathlib.Path, path: str, data: bytes) -> None:
    target = tree / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def changed_files(entries: list[tuple[str, int]], seed: int) -> list[tuple[str, int]]:
    """Return the small files rewritten before the incremental backup: ``CHANGED_SHARE`` of all."""
    small = [entry for entry in entries if not entry[0].startswith("large/")]
    count = max(1, round(len(entries) * CHANGED_SHARE))
    return random.Random(seed + 1).sample(small, min(count, len(small)))


def rewrite(tree: pathlib.Path, files: list[tuple[str, int]], seed: int, version: int) -> None:
    for path, size in files:
        write_file(tree, path, content(seed, path, size, version))


# ---------------------------------------------------------------- setup of one run


def config_text(base: pathlib.Path, tree: pathlib.Path, location_count: int) -> str:
    """Return a backupctl config with ``location_count`` local locations for the source
    ``bench``."""
    names = "abc"[:location_count]
    lines = [
        "[backupctl]",
        f'state_dir = "{base}/state"',
        f'keystore = "{base}/keystore.bin"',
        f'master_key_file = "{base}/master.key"',
        "",
    ]
    for index, name in enumerate(names):
        lines += [
            f"[locations.{name}]",
            'kind = "local"',
            f'path = "{base}/loc-{name}"',
            'country = "NL"',
            f"offsite = {'true' if index else 'false'}",
            "",
        ]
    lines += [
        "[sources.bench]",
        f'paths = ["{tree}"]',
        'tenant = "bench"',
        f"locations = {json.dumps(list(names))}",
    ]
    if location_count == 1:
        lines += ['allow_single_location = "benchmark"', 'allow_no_offsite = "benchmark"']
    return "\n".join(lines) + "\n"


def prepare_backupctl(base: pathlib.Path, tree: pathlib.Path, location_count: int) -> pathlib.Path:
    """Create a fresh backupctl setup under ``base`` and run ``init``; return the config path."""
    base.mkdir(parents=True)
    for name in "abc"[:location_count]:
        (base / f"loc-{name}").mkdir()
    master_secret.generate_master_key_file(base / "master.key")
    config_path = base / "backupctl.toml"
    config_path.write_text(config_text(base, tree, location_count))
    run_checked([str(BACKUPCTL), "--config", str(config_path), "init", "--quiet"])
    return config_path


def restic_argv(
    binary: str, repo: pathlib.Path, cache: pathlib.Path, password_file: pathlib.Path, *rest: str
) -> list[str]:
    return [
        binary,
        *rest[:1],
        "--repo",
        str(repo),
        "--cache-dir",
        str(cache),
        "--password-file",
        str(password_file),
        *rest[1:],
    ]


def plain_backup_argv(restic, base: pathlib.Path, source) -> list[str]:
    """Return the restic argv backupctl builds for ``source`` (same tags, excludes, ``--json``),
    with this repository and cache, and the password from a file (backupctl passes
    ``/dev/fd/N`` of a pipe)."""
    argv = commands.backup_argv(
        dataclasses.replace(restic, cache_dir=base / "cache"),
        Repository(url=str(base / "repo")),
        paths=source.paths,
        excludes=source.excludes,
        tags=backup_action.tags_for(source, None),
    )
    return [*argv[:2], "--password-file", str(base / "password"), *argv[2:]]


def prepare_plain(base: pathlib.Path, restic) -> None:
    """Create the plain restic repository and the copy destination (same chunker parameters)."""
    base.mkdir(parents=True)
    password = base / "password"
    password.write_text(PASSWORD + "\n")
    password.chmod(0o600)
    run_checked(restic_argv(restic.binary, base / "repo", base / "cache", password, "init"))
    run_checked(
        restic_argv(
            restic.binary,
            base / "copy",
            base / "copy-cache",
            password,
            "init",
            "--copy-chunker-params",
            "--from-repo",
            str(base / "repo"),
            "--from-password-file",
            str(password),
        )
    )


def copy_argv(restic, base: pathlib.Path) -> list[str]:
    password = base / "password"
    return restic_argv(
        restic.binary,
        base / "copy",
        base / "copy-cache",
        password,
        "copy",
        "--from-repo",
        str(base / "repo"),
        "--from-password-file",
        str(password),
    )


# ---------------------------------------------------------------- timing


def run_checked(argv: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        argv, check=False, capture_output=True, text=True, env=execute.build_environment({})
    )
    if result.returncode != 0:
        raise SystemExit(
            f"benchmark: {argv[0]} {argv[1]} failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result


def drop_caches(enabled: bool) -> None:
    os.sync()
    if enabled:
        pathlib.Path("/proc/sys/vm/drop_caches").write_text("3\n")


def timed(argv: list[str], drop: bool) -> tuple[float, float, subprocess.CompletedProcess]:
    """Drop the page cache (when allowed), then run argv; return its wall time, the CPU time
    (user + system) of it and its children, and its result."""
    drop_caches(drop)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = run_checked(argv)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result


def repository_files(root: pathlib.Path) -> dict[str, int]:
    return {
        path.relative_to(root).as_posix(): path.stat().st_size
        for path in root.rglob("*")
        if path.is_file() and "locks" not in path.parts
    }


def check_replicated(base: pathlib.Path) -> None:
    """Fail unless every location of a 3-location setup holds the same repository files."""
    listings = [repository_files(base / f"loc-{name}" / "bench") for name in "abc"]
    if not (listings[0] == listings[1] == listings[2]):
        raise SystemExit(f"benchmark: locations of {base} differ after backup")


def summary_of(output: str) -> dict:
    for line in reversed(output.splitlines()):
        if '"message_type":"summary"' in line.replace(" ", ""):
            return json.loads(line)
    return {}


def measure_phase(
    run_dir: pathlib.Path, configs: dict, restic, order: tuple[str, ...], drop: bool
) -> dict:
    """Time every variant once (in ``order``), then ``restic copy``; return wall and CPU seconds
    by name, and the bytes restic added."""
    phase: dict = {"wall": {}, "cpu": {}}
    for variant in order + ("restic-copy",):
        if variant == "restic":
            source = config.load(configs["backupctl-1"]).sources["bench"]
            argv = plain_backup_argv(restic, run_dir / "plain", source)
        elif variant == "restic-copy":
            argv = copy_argv(restic, run_dir / "plain")
        else:
            argv = [str(BACKUPCTL), "--config", str(configs[variant]), "backup", "--quiet"]
        phase["wall"][variant], phase["cpu"][variant], result = timed(argv, drop)
        if variant == "restic":
            phase["restic_data_added"] = summary_of(result.stdout).get("data_added", 0)
        print(
            f"  {variant}: {phase['wall'][variant]:.2f}s wall, {phase['cpu'][variant]:.2f}s CPU",
            flush=True,
        )
    check_replicated(run_dir / "backupctl-3")
    return phase


def one_run(
    index: int, workdir: pathlib.Path, tree: pathlib.Path, changed, seed: int, restic, drop: bool
) -> dict:
    """Fresh repositories, a full then an incremental backup of every variant; return the times."""
    run_dir = workdir / f"run-{index}"
    shutil.rmtree(run_dir, ignore_errors=True)
    prepare_plain(run_dir / "plain", restic)
    configs = {
        f"backupctl-{count}": prepare_backupctl(run_dir / f"backupctl-{count}", tree, count)
        for count in (1, 3)
    }
    order = VARIANTS[index % 3 :] + VARIANTS[: index % 3]
    try:
        print(f"run {index + 1}, full backup:", flush=True)
        full = measure_phase(run_dir, configs, restic, order, drop)
        rewrite(tree, changed, seed, version=index + 1)
        print(f"run {index + 1}, incremental backup:", flush=True)
        incremental = measure_phase(run_dir, configs, restic, order, drop)
    finally:
        rewrite(tree, changed, seed, version=0)
    repository_size = sum(repository_files(run_dir / "plain" / "repo").values())
    # the repositories stay until every run is done: deleting gigabytes on a file system mounted
    # with `discard` slows the next run's first command by tens of seconds
    return {
        "order": list(order),
        "full": full,
        "incremental": incremental,
        "repository_bytes": repository_size,
    }


# ---------------------------------------------------------------- reporting


def medians(runs: list[dict], phase: str, metric: str) -> dict[str, float]:
    keys = runs[0][phase][metric].keys()
    return {key: statistics.median(run[phase][metric][key] for run in runs) for key in keys}


def ratios(median: dict[str, float], full_restic: float) -> dict[str, float]:
    """Given one phase's medians and the full restic backup's, return the ratios the goals name."""
    extra = median["backupctl-3"] - median["backupctl-1"]
    return {
        "backupctl_1_over_restic": median["backupctl-1"] / median["restic"],
        "extra_2_locations_seconds": extra,
        "extra_2_locations_over_full_restic": extra / full_restic,
        "extra_2_locations_over_restic": extra / median["restic"],  # same phase's restic backup
        "restic_copy_over_full_restic": median["restic-copy"] / full_restic,
        "extra_location_over_restic_copy": extra / 2 / median["restic-copy"],
    }


def summarise(runs: list[dict]) -> dict:
    """Return, per metric (wall, cpu) and phase, the medians and the goal ratios."""
    result: dict = {}
    for metric in ("wall", "cpu"):
        full_restic = medians(runs, "full", metric)["restic"]
        for phase in ("full", "incremental"):
            median = medians(runs, phase, metric)
            goal = ratios(median, full_restic)
            per_run = [run[phase][metric] for run in runs]
            goal["backupctl_1_over_restic_per_run"] = [
                times["backupctl-1"] / times["restic"] for times in per_run
            ]
            goal["extra_2_locations_seconds_per_run"] = [
                times["backupctl-3"] - times["backupctl-1"] for times in per_run
            ]
            # paired: the median over runs of each run's own ratio, less hit by one slow command
            goal["paired_backupctl_1_over_restic"] = statistics.median(
                goal["backupctl_1_over_restic_per_run"]
            )
            goal["paired_extra_2_locations_over_full_restic"] = (
                statistics.median(goal["extra_2_locations_seconds_per_run"]) / full_restic
            )
            result.setdefault(metric, {})[phase] = {"medians_seconds": median, "ratios": goal}
    return result


def print_table(summary: dict) -> None:
    print(
        f"\n{'metric':<6} {'phase':<12} {'restic':>8} {'ctl 1 loc':>10} {'ctl 3 loc':>10} "
        f"{'+2 locs':>8} {'restic copy':>12} {'ctl1/restic':>12} {'+2 locs/full':>13}"
    )
    for metric in ("wall", "cpu"):
        for phase in ("full", "incremental"):
            median = summary[metric][phase]["medians_seconds"]
            goal = summary[metric][phase]["ratios"]
            print(
                f"{metric:<6} {phase:<12} {median['restic']:>7.2f}s {median['backupctl-1']:>9.2f}s "
                f"{median['backupctl-3']:>9.2f}s {goal['extra_2_locations_seconds']:>7.2f}s "
                f"{median['restic-copy']:>11.2f}s {goal['backupctl_1_over_restic']:>11.3f}x "
                f"{goal['extra_2_locations_over_full_restic']:>12.3f}x"
            )
    print()
    for phase in ("full", "incremental"):
        goal = summary["wall"][phase]["ratios"]
        slower = (goal["backupctl_1_over_restic"] - 1) * 100
        extra = goal["extra_2_locations_over_full_restic"]
        print(
            f"{phase} (wall): backupctl with 1 location {slower:+.1f}% against restic "
            f"(goal <= +3%: {'met' if slower <= 3 else 'NOT met'}); the 2nd and 3rd locations "
            f"cost {extra:.2f} of a full restic backup"
            f" (goal < 1: {'met' if extra < 1 else 'NOT met'});"
            f" {goal['extra_2_locations_over_restic']:.2f} of a restic backup of this phase;"
            f" one extra location costs {goal['extra_location_over_restic_copy']:.2f}"
            f" of a restic copy"
            f" (paired medians: {(goal['paired_backupctl_1_over_restic'] - 1) * 100:+.1f}%,"
            f" {goal['paired_extra_2_locations_over_full_restic']:.2f})"
        )


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        line.split(":", 1)[1].strip()
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--size-mib", type=int, default=1024, help="Tree size in MiB (default 1024)."
    )
    parser.add_argument(
        "--files", type=int, default=10_000, help="Files in the tree (default 10000)."
    )
    parser.add_argument("--runs", type=int, default=3, help="Runs; the medians are reported.")
    parser.add_argument("--seed", type=int, default=2, help="Seed of the tree's content.")
    parser.add_argument(
        "--workdir",
        type=pathlib.Path,
        default=pathlib.Path("/var/tmp/backupctl-bench"),
        help="Where the tree (kept between invocations) and repositories go.",
    )
    parser.add_argument(
        "--no-drop-caches",
        action="store_true",
        help="Do not drop the page cache before each timed command.",
    )
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        help="JSON results file (default benchmarks/results/backup-<time>.json).",
    )
    parser.add_argument(
        "--pool",
        type=pathlib.Path,
        nargs="+",
        metavar="JSON",
        help="Run nothing: print the medians over all runs of earlier results.",
    )
    args = parser.parse_args()
    if args.pool:
        runs = [run for path in args.pool for run in json.loads(path.read_text())["runs"]]
        print(f"{len(runs)} runs from {len(args.pool)} result file(s)")
        print_table(summarise(runs))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` restores the tree
    drop = os.geteuid() == 0 and not args.no_drop_caches
    workdir = args.workdir.absolute()
    restic = operations.detect("restic", workdir / "restic-cache")  # each run gets its own cache
    tree = workdir / "tree"
    workdir.mkdir(parents=True, exist_ok=True)
    entries = plan_tree(args.size_mib << 20, args.files, args.seed)
    started = time.perf_counter()
    built = build_tree(tree, entries, args.seed)
    print(
        f"tree: {len(entries)} files, {sum(s for _, s in entries) / 2**20:.0f} MiB in {tree} "
        f"({'built' if built else 'reused'} in {time.perf_counter() - started:.1f}s)"
    )
    print(
        f"restic {'.'.join(map(str, restic.version))}; page cache "
        + (
            "dropped before every timed command"
            if drop
            else "NOT dropped (not root or --no-drop-caches)"
        )
    )
    changed = changed_files(entries, args.seed)
    rewrite(tree, changed, args.seed, version=0)  # undo what an interrupted run left changed
    for stale in workdir.glob("run-*"):  # left by an interrupted invocation
        shutil.rmtree(stale, ignore_errors=True)
    runs = []
    for index in range(args.runs):
        runs.append(one_run(index, workdir, tree, changed, args.seed, restic, drop))
    for index in range(args.runs):
        shutil.rmtree(workdir / f"run-{index}", ignore_errors=True)
    summary = summarise(runs)
    print_table(summary)
    record = {
        "benchmark": "backup",
        "when": datetime.datetime.now(datetime.UTC).isoformat(),
        "command": " ".join([pathlib.Path(sys.executable).name, *sys.argv]),
        "parameters": {
            "size_mib": args.size_mib,
            "files": len(entries),
            "runs": args.runs,
            "seed": args.seed,
            "changed_files": len(changed),
            "changed_bytes": sum(size for _, size in changed),
        },
        "restic_version": ".".join(map(str, restic.version)),
        "page_cache_dropped": drop,
        "machine": machine(),
        "runs": runs,
        "summary": summary,
        "total_seconds": time.perf_counter() - started,
    }
    output = args.output or ROOT / "results" / (
        f"backup-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=2) + "\n")
    print(f"results: {output} (total {record['total_seconds']:.0f}s)")


if __name__ == "__main__":
    main()
