"""Fixed-cost benchmark (issue 6): what one backupctl run adds on top of the restic work itself.

Two measurements, each against plain restic on the same run, in the order A B B A over rounds:

- **fixed cost of a run**: ``backupctl backup --quiet`` of one small, unchanged source to one local
  location, against ``restic backup --json`` of the same tree into a byte-for-byte copy of the
  same repository (same keys, and plain restic gets the same ``--key-hint`` of the repository's
  fast key that backupctl gives its restic (docs/keystore.md): the same key, hence the same scrypt
  cost to open it; same tags and password, from a file; a cache directory of its own). The
  difference of the medians is what backupctl costs per run: Python start-up, the keystore,
  listing the location, recording state.
- **cost per additional source**: one ``backupctl backup --quiet`` over ``--sources`` (default 50)
  small sources, each with its own repository, against as many plain ``restic backup`` runs one
  after the other. ``(backupctl - restic - fixed) / (sources - 1)`` is what each additional
  source adds (the one-source run already holds the first).

Goals: fixed cost under 0.15 s; under 20 ms more per additional source.

Wall clock and CPU time (user + system of the command and its children) are both reported; CPU
time is steadier on a shared machine. backupctl runs its own console script through a small
wrapper (``runpy``) that also reports backupctl's *own* CPU time apart from restic's, so the
benchmark can say how much of the cost per source is backupctl's and how much is restic running
differently (``--sources`` restic runs vary by more than backupctl's whole cost on a loaded
machine).

Run: ``.venv/bin/python benchmarks/fixed_cost_bench.py [--rounds 8] [--sources 50]``.
Only the backupctl and restic commands are timed (as subprocesses); the one use of backupctl's
internals is reading the repository passwords from the keystore, and the fast keys' ids from the
state database, for plain restic.
``benchmarks/per_source_steps.py`` times each step of a run in-process.
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
FILES_PER_SOURCE = 20
FILE_SIZE = 4096
ENVIRONMENT = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
if "PYTHONPATH" in os.environ:  # to time another checkout's code with this one's venv
    ENVIRONMENT["PYTHONPATH"] = os.environ["PYTHONPATH"]


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


# Runs the backupctl console script unchanged, and at exit writes the CPU time of the Python
# process itself ("own") and of the restic runs it waited for ("children") to the file named by
# BENCH_RUSAGE_FILE.
WRAPPER = """
import atexit, json, os, resource, runpy, sys
def report():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if "BENCH_RUSAGE_FILE" not in os.environ:
        return
    with open(os.environ["BENCH_RUSAGE_FILE"], "w") as out:
        json.dump({"own": own.ru_utime + own.ru_stime,
                   "children": children.ru_utime + children.ru_stime}, out)
atexit.register(report)
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


def backupctl_argv(config: pathlib.Path, *arguments: str) -> list[str]:
    return [sys.executable, "-c", WRAPPER, str(BACKUPCTL), "--config", str(config), *arguments]


def run_checked(argv: list[str], environment: dict[str, str] = ENVIRONMENT) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, env=environment, check=False)
    if result.returncode != 0:
        shown = " ".join(argv[3:7] if argv[1:2] == ["-c"] else argv[:3])
        raise SystemExit(
            f"benchmark: {shown} failed ({result.returncode}):\n"
            f"{result.stdout[-1500:]}{result.stderr[-1500:]}"
        )


def timed(argv: list[str], work: pathlib.Path) -> tuple[float, float, float | None]:
    """Run argv; return its wall time, the CPU time (user + system) of it and its children, and
    for a wrapped backupctl the CPU time of backupctl's own process (None for restic)."""
    report = work / "rusage.json"
    report.unlink(missing_ok=True)
    environment = {**ENVIRONMENT, "BENCH_RUSAGE_FILE": str(report)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run_checked(argv, environment)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    own = json.loads(report.read_text())["own"] if report.exists() else None
    return wall, used, own


def timed_all(argvs: list[list[str]], work: pathlib.Path) -> tuple[float, float, float | None]:
    runs = [timed(argv, work) for argv in argvs]
    owns = [own for _, _, own in runs if own is not None]
    return (
        sum(wall for wall, _, _ in runs),
        sum(cpu for _, cpu, _ in runs),
        sum(owns) if owns else None,
    )


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
        run_checked(backupctl_argv(config, *step))
    return config


def plain_argv(restic: str, base: pathlib.Path, trees: pathlib.Path, name: str) -> list[str]:
    """Return the restic backup argv backupctl builds for source ``name``, password from a file."""
    return [
        restic,
        "backup",
        "--repo",
        str(base / "repos" / name),
        "--cache-dir",
        str(base / "cache"),
        "--password-file",
        str(base / "passwords" / name),
        *key_hint(base, name),
        "--json",
        "--tag",
        "backupctl",
        "--tag",
        f"source:{name}",
        "--tag",
        "tenant:bench",
        "--",
        str(trees / name),
    ]


def key_hint(base: pathlib.Path, name: str) -> tuple[str, ...]:
    """Return ``--key-hint ID`` of the source's fast key, as backupctl gives it (none without)."""
    hint = base / "hints" / name
    return ("--key-hint", hint.read_text()) if hint.is_file() else ()


def fast_key_ids(config: pathlib.Path, names: list[str]) -> dict[str, str | None]:
    """Return each source's fast key id from backupctl's state database."""
    from backupctl import config as config_module
    from backupctl import state
    from backupctl.fastkey import records

    db = state.db_path(config_module.load(config).state_dir)
    return {name: records.recorded(db, name) for name in names}


def repository_passwords(config: pathlib.Path, names: list[str]) -> dict[str, str]:
    """Return each source's repository password from backupctl's keystore (the one use of
    backupctl's internals here)."""
    from backupctl import config as config_module
    from backupctl.keys import access

    keystore = access.open_keystore(config_module.load(config))
    return {name: keystore.get(f"repo/{name}").reveal() for name in names}


def prepare_plain(
    restic: str, base: pathlib.Path, backupctl_base: pathlib.Path, names: list[str]
) -> None:
    """Give plain restic byte-for-byte copies of backupctl's repositories, their passwords and
    the same trees, and warm its own cache with one backup each.

    Copies, not repositories of its own: ``restic init`` calibrates the key's scrypt cost to the
    machine's speed at that moment, so on a shared machine repositories made minutes apart cost
    visibly different CPU time to open (scrypt p from 3 to 10 were seen among 50), which alone
    moved the cost per source by more than the goal."""
    passwords = repository_passwords(backupctl_base / "backupctl.toml", names)
    hints = fast_key_ids(backupctl_base / "backupctl.toml", names)
    (base / "passwords").mkdir(parents=True, mode=0o700)
    (base / "hints").mkdir(parents=True)
    for name in names:
        if hints[name]:
            (base / "hints" / name).write_text(hints[name])
        shutil.copytree(backupctl_base / "location" / name, base / "repos" / name, symlinks=True)
        password = base / "passwords" / name
        password.write_text(passwords[name] + "\n")
        password.chmod(0o600)
        run_checked(plain_argv(restic, base, backupctl_base / "trees", name))


def measure(work: pathlib.Path, restic: str, rounds: int, sources: int) -> dict:
    one, many = ["s000"], [f"s{index:03d}" for index in range(sources)]
    configs = {
        "one": prepare_backupctl(work / "b-one", one),
        "many": prepare_backupctl(work / "b-many", many),
    }
    prepare_plain(restic, work / "r-one", work / "b-one", one)
    prepare_plain(restic, work / "r-many", work / "b-many", many)
    keys = ("backupctl-one", "restic-one", "backupctl-many", "restic-many")
    samples: dict[str, list[float]] = {key: [] for key in keys}
    cpu: dict[str, list[float]] = {key: [] for key in keys}
    own: dict[str, list[float]] = {"backupctl-one": [], "backupctl-many": []}
    jobs = {
        "backupctl-one": [backupctl_argv(configs["one"], "backup", "--quiet")],
        "restic-one": [plain_argv(restic, work / "r-one", work / "b-one" / "trees", "s000")],
        "backupctl-many": [backupctl_argv(configs["many"], "backup", "--quiet")],
        "restic-many": [
            plain_argv(restic, work / "r-many", work / "b-many" / "trees", name) for name in many
        ],
    }
    load: list[tuple[float, float, float]] = []
    for round_index in range(rounds):
        load.append(os.getloadavg())
        # forward in even rounds, backward in odd ones: over an even number of rounds each
        # command runs as often before its counterpart as after it, so a load that rises or
        # falls during the benchmark (it does on a shared machine) favours neither side
        for key in keys if round_index % 2 == 0 else keys[::-1]:
            wall, used, own_cpu = timed_all(jobs[key], work)
            samples[key].append(wall)
            cpu[key].append(used)
            if own_cpu is not None:
                own[key].append(own_cpu)
    load.append(os.getloadavg())
    return summarize(samples, cpu, own, sources=sources, rounds=rounds, load=load)


def summarize(samples, cpu, own, *, sources: int, rounds: int, load) -> dict:
    """Given the timings of every round, return medians, the fixed cost and the cost per extra
    source (``sources - 1`` of them: the one-source run already holds the first), in wall clock,
    in CPU time, and in backupctl's own CPU time apart from restic's."""
    extra = max(1, sources - 1)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    cpu_medians = {key: statistics.median(values) for key, values in cpu.items()}
    own_medians = {key: statistics.median(values) for key, values in own.items()}

    def per_source(table: dict[str, float]) -> float:
        fixed = table["backupctl-one"] - table["restic-one"]
        return (table["backupctl-many"] - table["restic-many"] - fixed) / extra

    per_round = [
        per_source({key: values[index] for key, values in samples.items()})
        for index in range(rounds)
    ]
    restic_under_backupctl = {
        key: cpu_medians[key] - own_medians[key] for key in ("backupctl-one", "backupctl-many")
    }
    return {
        "rounds": rounds,
        "sources": sources,
        "load_average_per_round": load,
        "samples": samples,
        "cpu_samples": cpu,
        "own_cpu_samples": own,
        "medians": medians,
        "cpu_medians": cpu_medians,
        "own_cpu_medians": own_medians,
        "fixed_cost_s": medians["backupctl-one"] - medians["restic-one"],
        "per_source_s": per_source(medians),
        "per_source_per_round_s": per_round,
        "fixed_cost_cpu_s": cpu_medians["backupctl-one"] - cpu_medians["restic-one"],
        "per_source_cpu_s": per_source(cpu_medians),
        "own_cpu_one_s": own_medians["backupctl-one"],
        "own_cpu_per_source_s": (own_medians["backupctl-many"] - own_medians["backupctl-one"])
        / extra,
        "restic_cpu_per_run_under_backupctl_s": (
            restic_under_backupctl["backupctl-many"] - restic_under_backupctl["backupctl-one"]
        )
        / extra,
        "restic_cpu_per_run_plain_s": (cpu_medians["restic-many"] - cpu_medians["restic-one"])
        / extra,
        "ratio_one": medians["backupctl-one"] / medians["restic-one"],
        "ratio_many": medians["backupctl-many"] / medians["restic-many"],
        "cpu_ratio_one": cpu_medians["backupctl-one"] / cpu_medians["restic-one"],
        "cpu_ratio_many": cpu_medians["backupctl-many"] / cpu_medians["restic-many"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)  # even: A B B A
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
    medians, cpu_medians = result["medians"], result["cpu_medians"]
    print(f"restic: {result['restic']}; rounds: {options.rounds}; medians in seconds")
    print(
        "  load average (1, 5, 15 min) per round: "
        + "; ".join(
            " ".join(f"{value:.1f}" for value in entry)
            for entry in result["load_average_per_round"]
        )
    )
    print(
        f"  one source:   backupctl {medians['backupctl-one']:.3f}  restic "
        f"{medians['restic-one']:.3f}  ratio {result['ratio_one']:.3f}  "
        f"fixed cost {result['fixed_cost_s'] * 1000:.0f} ms (goal < 150 ms)"
    )
    print(
        f"  {options.sources} sources:   backupctl {medians['backupctl-many']:.3f}  restic "
        f"{medians['restic-many']:.3f}  ratio {result['ratio_many']:.3f}  "
        f"per extra source {result['per_source_s'] * 1000:.1f} ms (goal < 20 ms; per round "
        + ", ".join(f"{value * 1000:.1f}" for value in result["per_source_per_round_s"])
        + ")"
    )
    print(
        f"  CPU (user + system): one source backupctl {cpu_medians['backupctl-one']:.3f} "
        f"restic {cpu_medians['restic-one']:.3f} (ratio {result['cpu_ratio_one']:.3f}); "
        f"{options.sources} sources backupctl {cpu_medians['backupctl-many']:.3f} restic "
        f"{cpu_medians['restic-many']:.3f} (ratio {result['cpu_ratio_many']:.3f})"
    )
    print(
        f"  CPU: fixed cost {result['fixed_cost_cpu_s'] * 1000:.0f} ms, per extra source "
        f"{result['per_source_cpu_s'] * 1000:.1f} ms"
    )
    print(
        f"  backupctl's own CPU (its Python process, restic apart): one source "
        f"{result['own_cpu_one_s'] * 1000:.0f} ms, per extra source "
        f"{result['own_cpu_per_source_s'] * 1000:.1f} ms; restic's CPU per extra run "
        f"{result['restic_cpu_per_run_under_backupctl_s'] * 1000:.0f} ms under backupctl, "
        f"{result['restic_cpu_per_run_plain_s'] * 1000:.0f} ms plain"
    )
    print(f"results: {options.output}")


if __name__ == "__main__":
    main()
