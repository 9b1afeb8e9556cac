"""Where a backup run's time goes per source, beside restic: one ``backupctl backup --quiet`` run
in-process, with a timer (wall clock and this process's CPU time) around each step.

Unlike ``fixed_cost_bench.py`` this wraps backupctl's internal functions, so it follows the module
layout (a step whose function is gone is simply not shown). CPU time here is the Python
process's own (all its threads); restic's is reported apart. Steps nest: "per source" holds all
the others, "restic run" holds "spawn".

Run (about a minute for 50 sources; ``--setup`` first creates them, about 6 minutes):

    .venv/bin/python benchmarks/per_source_steps.py --setup 50 /var/tmp/steps
    .venv/bin/python benchmarks/per_source_steps.py /var/tmp/steps

Set ``PYTHONPATH`` to another checkout's root to time that code on the same sources.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import pathlib
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import fixed_cost_bench  # noqa: E402 - the benchmark's own set-up of sources

# label -> [calls, wall seconds, CPU seconds]
TOTALS: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])


def _add(label: str, wall: float, cpu: float) -> None:
    entry = TOTALS[label]
    entry[0] += 1
    entry[1] += wall
    entry[2] += cpu


def wrap(owner: object, name: str, label: str) -> None:
    """Time every call of ``owner.name`` under ``label`` (skipped when it does not exist)."""
    original = getattr(owner, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def timed(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            _add(label, time.perf_counter() - wall, time.process_time() - cpu)

    setattr(owner, name, timed)


def wrap_context(owner: object, name: str, label: str) -> None:
    """Time entering and leaving every ``with owner.name(...)`` block (not the block itself)."""
    original = getattr(owner, name, None)
    if original is None:
        return

    @contextlib.contextmanager
    @functools.wraps(original)
    def timed(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        with original(*args, **kwargs) as value:
            _add(f"{label}: enter", time.perf_counter() - wall, time.process_time() - cpu)
            yield value
            wall, cpu = time.perf_counter(), time.process_time()
        _add(f"{label}: leave", time.perf_counter() - wall, time.process_time() - cpu)

    setattr(owner, name, timed)


def instrument() -> None:
    from backupctl import reach, runlock, state
    from backupctl.actions import backup, replicate
    from backupctl.actions import manifest as manifests
    from backupctl.replication import plan, sync
    from backupctl.restic import execute
    from targets import local

    wrap(backup, "_backup_source", "per source")
    wrap(execute, "run", "restic run (spawn, read, wait)")
    wrap(subprocess.Popen, "__init__", "spawn restic")
    wrap_context(state, "connect", "state.connect")
    wrap_context(reach, "reach", "reach (open, list)")
    wrap_context(runlock, "source_lock", "source lock")
    wrap(reach.Reached, "relisted", "relist")
    wrap(local.LocalStore, "list_files", "local listing")
    wrap(reach, "close", "close stores")
    wrap(manifests, "current", "manifest: load")
    wrap(manifests, "remember_written", "manifest: relist, add")
    wrap(replicate, "replicate", "replicate (plan, sync, relist)")
    wrap(sync, "check_configs", "replicate: compare configs")
    wrap(sync, "sync", "replicate: sync")
    wrap(plan, "plan", "replicate: plan")
    for name in ("record_result", "record_results", "load_manifest", "add_to_manifest"):
        wrap(state, name, f"state.{name}")


def run(config: pathlib.Path, sources: int) -> None:
    instrument()
    from backupctl.cli import main

    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, cpu = time.perf_counter(), time.process_time()
    sys.argv = ["backupctl", "--config", str(config), "backup", "--quiet"]
    try:
        main.main()
    except SystemExit as stop:
        code = stop.code
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    restic_cpu = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    print(
        f"run: exit {code}, wall {wall:.3f} s, backupctl CPU {cpu:.3f} s, restic CPU "
        f"{restic_cpu:.3f} s, {sources} sources"
    )
    whole, restic = TOTALS["per source"], TOTALS["restic run (spawn, read, wait)"]
    print(
        f"per source beside restic: wall {(whole[1] - restic[1]) * 1000 / sources:.2f} ms; "
        f"backupctl CPU {whole[2] * 1000 / sources:.2f} ms (with reading restic's output)"
    )
    print(f"{'step':34} {'calls':>6} {'wall ms/source':>15} {'CPU ms/source':>14}")
    for label, (calls, step_wall, step_cpu) in sorted(TOTALS.items(), key=lambda kv: -kv[1][1]):
        print(
            f"{label:34} {int(calls):6d} {step_wall * 1000 / sources:15.2f} "
            f"{step_cpu * 1000 / sources:14.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=pathlib.Path)
    parser.add_argument("--setup", type=int, metavar="SOURCES", help="create the sources first")
    options = parser.parse_args()
    config = options.directory / "backupctl.toml"
    if options.setup:
        if options.directory.exists():
            shutil.rmtree(options.directory)
        names = [f"s{index:03d}" for index in range(options.setup)]
        fixed_cost_bench.prepare_backupctl(options.directory, names)
        return
    run(config, sum(1 for _ in (options.directory / "trees").iterdir()))


if __name__ == "__main__":
    main()
