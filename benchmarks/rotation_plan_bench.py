"""Time the rotation planner (policies/rotation.py) on many snapshots; the goal of issue 7 is
under one second for 100,000.

Deterministic input: ``--snapshots`` snapshots spread over ``--days`` days (several a day, some
with a recorded time older or younger than restic's, a few dated in the future, a few held), in
two groups, shuffled. Reports the best and median wall and CPU time of ``--runs`` runs, and how
many snapshots were kept and forgotten. Run from the repository root:

    .venv/bin/python benchmarks/rotation_plan_bench.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import sys
import time

from policies import retention, rotation

NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)


def snapshots(count: int, days: int, seed: int) -> list[rotation.SnapshotFacts]:
    """Given a count, a span and a seed, return that many snapshot facts, shuffled."""
    generator = random.Random(seed)
    facts = []
    for index in range(count):
        age = generator.uniform(-2, days)
        recorded = None
        if index % 3 == 0:
            recorded = NOW - datetime.timedelta(days=max(0.0, age + generator.uniform(-5, 5)))
        facts.append(
            rotation.SnapshotFacts(
                id=f"{generator.getrandbits(256):064x}",
                time=NOW - datetime.timedelta(days=age),
                recorded=recorded,
                tags=("backupctl", f"tenant:t{index % 50}"),
                group=f"source-{index % 2}",
            )
        )
    generator.shuffle(facts)
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--policy", default=retention.DEFAULT_POLICY_NAME)
    options = parser.parse_args(argv)
    facts = snapshots(options.snapshots, options.days, options.seed)
    policy = retention.BUILTIN_POLICIES[options.policy]
    holds = [rotation.Hold(reason="benchmark hold", tenant="t7")]
    walls, cpus = [], []
    for _ in range(options.runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = rotation.plan(facts, policy, holds=holds, now=NOW)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    report = {
        "snapshots": options.snapshots,
        "policy": policy.name,
        "runs": options.runs,
        "wall_best_s": round(min(walls), 3),
        "wall_median_s": round(statistics.median(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "kept": len(result.keep),
        "forgotten": len(result.forget),
        "future": len(result.future),
        "goal_s": 1.0,
        "goal_met": statistics.median(walls) < 1.0,
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if report["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
