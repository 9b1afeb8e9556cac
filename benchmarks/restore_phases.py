"""Where the time of `backupctl restore run` goes, around restic: before it (checks, `restic ls`),
restic's restore itself, and after it (the comparison, what is left of the manifest's hashing,
the move, the manifest, the audit record).

Uses the set-up of an earlier ``restore_bench.py`` run (``--workdir``, same ``--restic``), times
``restore_run.run`` in-process ``--runs`` times, each in a fresh interpreter, for this tree and,
with ``--compare-with``, for older code (a tree), in rotating order. The "after restic" part is
the one restic 0.17+ lets the hashing overlap; it does not depend on the machine's load the way
the whole run's wall time does.

    .venv/bin/python benchmarks/restore_phases.py --workdir /var/tmp/w3o-1g --runs 5 \\
        --restic .cache/restic-trixie/usr/bin/restic --compare-with /tmp/main-code
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parents[1]

ONE_RUN = """
import json, sys, time
from backupctl.actions import restore_run  # first: restore_bench puts this tree on sys.path
from backupctl.restic import restoring
from benchmarks import restore_bench

setup = restore_bench.pathlib.Path({setup!r})
helper = restore_bench._Helper(setup, setup / "backupctl.toml", {restic!r})
request_id = helper.approved_request({target!r})
marks = {{}}
real = restoring.restore

def timed_restore(*args, **kwargs):
    marks["restic_start"] = time.monotonic()
    try:
        return real(*args, **kwargs)
    finally:
        marks["restic_end"] = time.monotonic()

restoring.restore = timed_restore
start = time.monotonic()
restore_run.run(helper.config(), request_id, actor=helper.actor("root"))
end = time.monotonic()
print(restore_run.__file__, file=sys.stderr)
print(json.dumps({{
    "before": marks["restic_start"] - start,
    "restic": marks["restic_end"] - marks["restic_start"],
    "after": end - marks["restic_end"],
}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=pathlib.Path, required=True)
    parser.add_argument("--restic", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare-with", type=pathlib.Path)
    args = parser.parse_args()
    setup = args.workdir / "setup"
    config = setup / "backupctl.toml"
    config.write_text(
        re.sub(r'(?m)^restic = ".*"$', f"restic = {json.dumps(args.restic)}", config.read_text())
    )
    trees = {"backupctl": HERE}
    if args.compare_with:
        trees["backupctl-before"] = args.compare_with
    phases: dict[str, list[dict]] = {name: [] for name in trees}
    for run in range(args.runs):
        names = list(trees)[run % len(trees) :] + list(trees)[: run % len(trees)]
        for name in names:
            target = setup / "restores" / f"phases-{name}-{run}"
            for stale in (target, target.with_name(target.name + ".manifest.json")):
                subprocess.run(("rm", "-rf", "--", str(stale)), check=True)
            code = ONE_RUN.format(setup=str(setup), restic=args.restic, target=str(target))
            # the code under test first on the path; run from / so '' (the cwd) adds nothing
            environment = {**os.environ, "PYTHONPATH": f"{trees[name]}:{HERE}"}
            output = subprocess.run(
                (sys.executable, "-c", code),
                capture_output=True,
                text=True,
                check=False,
                cwd="/",
                env=environment,
            )
            if output.returncode != 0:
                raise SystemExit(f"{name}: {output.stderr[-2000:]}")
            phases[name].append(json.loads(output.stdout.splitlines()[-1]))
            assert str(trees[name]) in output.stderr, "not the code meant"
            for made in (target, target.with_name(target.name + ".manifest.json")):
                subprocess.run(("rm", "-rf", "--", str(made)), check=True)
            print(f"run {run} {name:<17} {phases[name][-1]}", flush=True)
    summary = {
        name: {
            part: round(statistics.median(value[part] for value in values), 3)
            for part in ("before", "restic", "after")
        }
        for name, values in phases.items()
    }
    print(json.dumps({"restic": args.restic, "runs": args.runs, "medians": summary}, indent=2))


if __name__ == "__main__":
    main()
