"""Fixed-cost benchmark (issue 6): what one backupctl run adds on top of the restic work itself.

Two measurements, each against plain restic on the same run, with the order rotating per round:

- **fixed cost of a run**: ``backupctl backup --quiet`` of one small, unchanged source to one local
  location, against ``restic backup --json`` of the same tree into a plain repository (same tags,
  cache directory, password from a file). The difference of the medians is what backupctl costs
  per run: Python start-up, the keystore, listing the location, recording state.
- **cost per additional source**: one ``backupctl backup --quiet`` over ``--sources`` (default 50)
  small sources, each with its own repository, against as many plain ``restic backup`` runs one
  after the other. ``(backupctl - restic - fixed) / sources`` is what each extra source adds.

Goals: fixed cost under 0.15 s; under 20 ms more per additional source.

Run: ``.venv/bin/python benchmarks/fixed_cost_bench.py [--rounds 7] [--sources 50]``.
Only the backupctl and restic commands are run (as subprocesses), so the benchmark does not depend
on backupctl's internal module layout.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
PASSWORD = "benchmark-password-not-secret"
FILES_PER_SOURCE = 20
FILE_SIZE = 4096
ENVIRONMENT = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def make_tree(tree: pathlib.Path, seed: int) -> None:
    """Write ``FILES_PER_SOURCE`` files of pseudo-random bytes fixed by ``seed``."""
    tree.mkdir(parents=True)
    for index in range(FILES_PER_SOURCE):
        block = f"{seed}:{index}:".encode() * (FILE_SIZE // 8)
        (tree / f"file{index:03d}.bin").write_bytes(block[:FILE_SIZE])


def config_text(base: pathlib.Path, names: list[str]) -> str:
    """Return a config with one local location and one source per name (single-location waived)."""
    lines = [
        "[backupctl]",
        f'state_dir = "{base}/state"',
        f'keystore = "{base}/keystore.bin"',
        f'master_key_file = "{base}/master.key"',
        "",
        "[locations.disk]",
        'kind = "local"',
        f'path = "{base}/location"',
        'country = "NL"',
        "offsite = false",
        "",
    ]
    for name in names:
        lines += [
            f"[sources.{name}]",
            f'paths = ["{base}/trees/{name}"]',
            'tenant = "bench"',
            'locations = ["disk"]',
            'allow_single_location = "benchmark"',
            'allow_no_offsite = "benchmark"',
            "",
        ]
    return "\n".join(lines)


def run_checked(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, env=ENVIRONMENT, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"benchmark: {' '.join(argv[:3])} failed ({result.returncode}):\n"
            f"{result.stdout[-1500:]}{result.stderr[-1500:]}"
        )


def timed(argv: list[str]) -> tuple[float, float]:
    """Run argv; return its wall time and the CPU time (user + system) of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run_checked(argv)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed_all(argvs: list[list[str]]) -> tuple[float, float]:
    pairs = [timed(argv) for argv in argvs]
    return sum(wall for wall, _ in pairs), sum(cpu for _, cpu in pairs)


def prepare_backupctl(base: pathlib.Path, names: list[str]) -> pathlib.Path:
    """Create trees, a master key, a keystore and the repositories; return the config path."""
    for index, name in enumerate(names):
        make_tree(base / "trees" / name, index)
    (base / "location").mkdir(parents=True)
    config = base / "backupctl.toml"
    config.write_text(config_text(base, names))
    for step in (
        ["keys", "master-keygen"],
        ["keys", "init"],
        ["init", "--quiet"],
        ["backup", "--quiet"],
    ):  # the first backup is a full one; we time unchanged runs
        run_checked([str(BACKUPCTL), "--config", str(config), *step])
    return config


def plain_argv(restic: str, base: pathlib.Path, name: str) -> list[str]:
    """Return the restic backup argv backupctl builds for source ``name``, password from a file."""
    return [
        restic,
        "backup",
        "--repo",
        str(base / "repos" / name),
        "--cache-dir",
        str(base / "cache"),
        "--password-file",
        str(base / "password"),
        "--json",
        "--tag",
        "backupctl",
        "--tag",
        f"source:{name}",
        "--tag",
        "tenant:bench",
        "--",
        str(base / "trees" / name),
    ]


def prepare_plain(restic: str, base: pathlib.Path, names: list[str]) -> None:
    password = base / "password"
    base.mkdir(parents=True, exist_ok=True)
    password.write_text(PASSWORD + "\n")
    password.chmod(0o600)
    for index, name in enumerate(names):
        make_tree(base / "trees" / name, index)
        run_checked(
            [
                restic,
                "init",
                "--repo",
                str(base / "repos" / name),
                "--cache-dir",
                str(base / "cache"),
                "--password-file",
                str(password),
            ]
        )
        run_checked(plain_argv(restic, base, name))


def measure(work: pathlib.Path, restic: str, rounds: int, sources: int) -> dict:
    one, many = ["s000"], [f"s{index:03d}" for index in range(sources)]
    configs = {
        "one": prepare_backupctl(work / "b-one", one),
        "many": prepare_backupctl(work / "b-many", many),
    }
    prepare_plain(restic, work / "r-one", one)
    prepare_plain(restic, work / "r-many", many)
    keys = ("backupctl-one", "restic-one", "backupctl-many", "restic-many")
    samples: dict[str, list[float]] = {key: [] for key in keys}
    cpu: dict[str, list[float]] = {key: [] for key in keys}
    jobs = {
        "backupctl-one": [[str(BACKUPCTL), "--config", str(configs["one"]), "backup", "--quiet"]],
        "restic-one": [plain_argv(restic, work / "r-one", "s000")],
        "backupctl-many": [[str(BACKUPCTL), "--config", str(configs["many"]), "backup", "--quiet"]],
        "restic-many": [plain_argv(restic, work / "r-many", name) for name in many],
    }
    for round_index in range(rounds):
        shift = round_index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            wall, used = timed_all(jobs[key])
            samples[key].append(wall)
            cpu[key].append(used)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    cpu_medians = {key: statistics.median(values) for key, values in cpu.items()}
    fixed = medians["backupctl-one"] - medians["restic-one"]
    per_source = (medians["backupctl-many"] - medians["restic-many"] - fixed) / sources
    fixed_cpu = cpu_medians["backupctl-one"] - cpu_medians["restic-one"]
    per_source_cpu = (
        cpu_medians["backupctl-many"] - cpu_medians["restic-many"] - fixed_cpu
    ) / sources
    return {
        "rounds": rounds,
        "sources": sources,
        "samples": samples,
        "cpu_samples": cpu,
        "medians": medians,
        "cpu_medians": cpu_medians,
        "fixed_cost_s": fixed,
        "per_source_s": per_source,
        "fixed_cost_cpu_s": fixed_cpu,
        "per_source_cpu_s": per_source_cpu,
        "ratio_one": medians["backupctl-one"] / medians["restic-one"],
        "ratio_many": medians["backupctl-many"] / medians["restic-many"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--restic", default=shutil.which("restic") or "restic")
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path(__file__).parent / "results" / "fixed-cost.json",
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="backupctl-fixed-") as temporary:
        result = measure(pathlib.Path(temporary), options.restic, options.rounds, options.sources)
    version = subprocess.run([options.restic, "version"], capture_output=True, text=True).stdout
    result["restic"] = version.strip()
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(result, indent=2))
    medians = result["medians"]
    print(f"restic: {result['restic']}; rounds: {options.rounds}; medians in seconds")
    print(
        f"  one source:   backupctl {medians['backupctl-one']:.3f}  restic "
        f"{medians['restic-one']:.3f}  ratio {result['ratio_one']:.2f}  "
        f"fixed cost {result['fixed_cost_s'] * 1000:.0f} ms (goal < 150 ms)"
    )
    print(
        f"  {options.sources} sources:   backupctl {medians['backupctl-many']:.3f}  restic "
        f"{medians['restic-many']:.3f}  ratio {result['ratio_many']:.2f}  "
        f"per extra source {result['per_source_s'] * 1000:.1f} ms (goal < 20 ms)"
    )
    print(
        f"  CPU (user + system, steadier on a shared machine): fixed cost "
        f"{result['fixed_cost_cpu_s'] * 1000:.0f} ms, per extra source "
        f"{result['per_source_cpu_s'] * 1000:.1f} ms"
    )
    print(f"results: {options.output}")


if __name__ == "__main__":
    main()
