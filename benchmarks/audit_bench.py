"""Audit log benchmark (issue 9): `backupctl audit verify` on a log of one million records, and
what the audit trail adds to a backup run.

1. Builds a state database with ``--records`` records (default 1,000,000) shaped like a backup
   run's (subjects and details of a few hundred bytes), hash-linked exactly as ``log.append``
   links them, checkpointed and anchored at two local locations; then times the installed
   ``backupctl audit verify`` end to end (process start, walk, Merkle roots, both anchors),
   ``--runs`` times, and reports the median.
2. Times what a backup run adds for its audit trail, in process and on that same large log:
   the ``started`` record, the closing record, the checkpoint (Merkle frontier extended, Ed25519
   signature) and the anchor written to both locations: median over ``--trail-runs`` runs.

3. With ``--compare-with DIR`` (a tree of the code before, e.g. ``git archive 9345e34 backupctl
   policies targets recovery | tar -x -C DIR``): one ``backupctl backup --quiet`` of a small
   unchanged source to two local locations, the old code (``PYTHONPATH=DIR``) and this one
   alternating, ``--ab-runs`` each: what the role check and the audit trail add end to end.

Run: ``.venv/bin/python benchmarks/audit_bench.py [--records 1000000] [--runs 3]
[--compare-with DIR --ab-runs 25]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from backupctl import config, state
from backupctl.actions import audit_anchor, run_audit
from backupctl.audit import checkpoint, log
from backupctl.keys import access as keyaccess
from backupctl.keys import master_secret
from backupctl.results import LocationResult, RunReport, SourceReport

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
BATCH = 50_000


def make_config(root: pathlib.Path) -> config.Config:
    master_secret.generate_master_key_file(root / "master.key")
    for name in ("a", "b"):
        (root / name).mkdir()
    text = (
        f'[backupctl]\nstate_dir = "{root}/state"\nkeystore = "{root}/ks.bin"\n'
        f'master_key_file = "{root}/master.key"\n'
        f'[locations.a]\nkind = "local"\npath = "{root}/a"\ncountry = "NL"\noffsite = false\n'
        f'[locations.b]\nkind = "local"\npath = "{root}/b"\ncountry = "DE"\noffsite = true\n'
        f'[sources.mail]\npaths = ["{root}"]\ntenant = "acme"\nlocations = ["a", "b"]\n'
    )
    (root / "c.toml").write_text(text)
    loaded = config.load(root / "c.toml")
    keyaccess.open_keystore(loaded, create=True).save()
    return loaded


def fill(db: pathlib.Path, count: int) -> None:
    """Write ``count`` linked records in batches, as ``log.append_in`` would one by one."""
    subjects = {"sources": "mail,web,db", "tenants": "acme,globex"}
    prev, seq = log.GENESIS, 0
    with state.connect(db) as connection:
        while seq < count:
            rows = []
            for _ in range(min(BATCH, count - seq)):
                seq += 1
                at = f"2026-11-{1 + seq % 28:02d}T{seq % 24:02d}:00:00.000000+00:00"
                details = {
                    "run": seq,
                    "exit_code": 0,
                    "sources": [{"source": "mail", "snapshot": f"{seq:064x}", "bytes_added": seq}],
                }
                event = log.Event("backup.run", f"ops-{seq % 7}", "ok", subjects, details)
                digest = log.chain_hash(prev, log.canonical(seq, at, event))
                rows.append(
                    (
                        seq,
                        at,
                        event.actor,
                        event.action,
                        log.compact_json(subjects),
                        "ok",
                        log.compact_json(details),
                        prev,
                        digest,
                    )
                )
                prev = digest
            connection.executemany("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            connection.commit()


def time_verify(
    root: pathlib.Path, runs: int, variants: dict[str, dict[str, str]]
) -> dict[str, tuple[list[float], list[float]]]:
    """Return, per variant (name -> environment), the wall-clock and CPU seconds (user + system,
    the process and its children) of each ``audit verify``; variants alternate run by run."""
    timings: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in variants}
    for index in range(runs):
        names = list(variants) if index % 2 == 0 else list(reversed(variants))
        for name in names:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            result = subprocess.run(
                (str(BACKUPCTL), "--config", str(root / "c.toml"), "audit", "verify", "--json"),
                capture_output=True,
                text=True,
                check=False,
                env=variants[name],
            )
            timings[name][0].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            timings[name][1].append(
                after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            )
            report = json.loads(result.stdout)
            if result.returncode != 0 or not report["intact"]:
                raise SystemExit(f"audit verify failed: {result.stdout}{result.stderr}")
    return timings


def time_trail(loaded: config.Config, runs: int) -> dict[str, list[float]]:
    """Time the audit work of one backup run, by part: the two records, the checkpoint, the
    anchors at both locations (wall clock), and the CPU time of all of it."""
    db = state.db_path(loaded.state_dir)
    keystore = keyaccess.open_keystore(loaded)
    source = loaded.sources["mail"]
    results = (
        LocationResult("mail", "a", "backup", True, bytes_added=10, snapshot_id="ab" * 32),
        LocationResult("mail", "b", "replicate", True, files_copied=4),
    )
    report = RunReport(1, (SourceReport("mail", "ab" * 32, "a", results),))
    parts: dict[str, list[float]] = {
        name: []
        for name in ("records+checkpoint", "checkpoint again", "anchors", "close", "total", "cpu")
    }
    for _ in range(runs):
        cpu = time.process_time()
        started = time.perf_counter()
        # as backup and init hold it (docs/performance.md); older code has none
        with getattr(state, "session", lambda _: contextlib.nullcontext())(db):
            audited = run_audit.started(
                loaded.state_dir, command="backup", actor="ops", host=_host(), sources=[source]
            )
            run_audit.finished(audited, report, finished=True)
            recorded = time.perf_counter()
            made = checkpoint.make(db, loaded.state_dir, host=_host())
            signed = time.perf_counter()
            audit_anchor.anchor_at(loaded, keystore, made, source.locations)
            anchored = time.perf_counter()
        ended = time.perf_counter()
        parts["records+checkpoint"].append(recorded - started)
        parts["checkpoint again"].append(signed - recorded)
        parts["anchors"].append(anchored - signed)
        parts["close"].append(ended - anchored)
        parts["total"].append(ended - started)
        parts["cpu"].append(time.process_time() - cpu)
    return parts


def _ab_setup(root: pathlib.Path, environment: dict[str, str]) -> None:
    master_secret.generate_master_key_file(root / "master.key")
    for name in ("a", "b", "data"):
        (root / name).mkdir()
    for index in range(20):
        (root / "data" / f"f{index}").write_bytes(os.urandom(4096))
    (root / "c.toml").write_text(
        f'[backupctl]\nstate_dir = "{root}/state"\nkeystore = "{root}/ks.bin"\n'
        f'master_key_file = "{root}/master.key"\n'
        f'[locations.a]\nkind = "local"\npath = "{root}/a"\ncountry = "NL"\noffsite = false\n'
        f'[locations.b]\nkind = "local"\npath = "{root}/b"\ncountry = "DE"\noffsite = true\n'
        f'[sources.s]\npaths = ["{root}/data"]\ntenant = "t"\nlocations = ["a", "b"]\n'
    )
    for command in ("init", "backup"):
        _ab_run(root, environment, command)


def _ab_run(root: pathlib.Path, environment: dict[str, str], command: str = "backup"):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        (str(BACKUPCTL), "--config", str(root / "c.toml"), command, "--quiet"),
        check=True,
        env=environment,
        capture_output=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return time.perf_counter() - started, cpu


def compare(old_tree: pathlib.Path, runs: int, scratch: pathlib.Path) -> None:
    """Time a backup run with the old code and with this code, alternating; print the medians."""
    variants = {"before": {**os.environ, "PYTHONPATH": str(old_tree)}, "after": dict(os.environ)}
    for name, environment in variants.items():
        (scratch / name).mkdir()
        _ab_setup(scratch / name, environment)
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for index in range(runs):
        order = list(variants) if index % 2 == 0 else list(reversed(variants))
        for name in order:
            seconds, used = _ab_run(scratch / name, variants[name])
            wall[name].append(seconds)
            cpu[name].append(used)
    for name in variants:
        print(
            f"backup run, {name}: wall median {statistics.median(wall[name]) * 1000:.0f} ms,"
            f" CPU median {statistics.median(cpu[name]) * 1000:.0f} ms over {runs} runs"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trail-runs", type=int, default=200)
    parser.add_argument("--compare-with", type=pathlib.Path, help="a tree of the older code")
    parser.add_argument("--ab-runs", type=int, default=25)
    parser.add_argument(
        "--verify-compare-with", type=pathlib.Path, help="older code: time its verify alternately"
    )
    arguments = parser.parse_args()
    root = pathlib.Path(tempfile.mkdtemp(prefix="audit-bench-"))
    try:
        loaded = make_config(root)
        db = state.db_path(loaded.state_dir)
        started = time.perf_counter()
        fill(db, arguments.records)
        built = time.perf_counter() - started
        made = checkpoint.make(db, loaded.state_dir, host=_host())
        audit_anchor.anchor_at(loaded, keyaccess.open_keystore(loaded), made, ["a", "b"])
        # closed: an open connection would spare every later close its WAL checkpoint
        with contextlib.closing(sqlite3.connect(db)) as connection:
            size = connection.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
        db_mib = db.stat().st_size / 2**20
        print(f"log: {size} records, {db_mib:.0f} MiB state.db (built in {built:.1f} s)")
        variants = {"this code": dict(os.environ)}
        if arguments.verify_compare_with:
            old_path = str(arguments.verify_compare_with)
            variants["older code"] = {**os.environ, "PYTHONPATH": old_path}
        for name, (verify, cpu) in time_verify(root, arguments.runs, variants).items():
            print(
                f"audit verify ({name}): median {statistics.median(verify):.2f} s wall,"
                f" {statistics.median(cpu):.2f} s CPU over {len(verify)} runs"
                f" (wall {', '.join(f'{value:.2f}' for value in verify)};"
                f" CPU {', '.join(f'{value:.2f}' for value in cpu)}); goal < 10 s"
            )
        trail = time_trail(loaded, arguments.trail_runs)
        medians = {name: statistics.median(values) * 1000 for name, values in trail.items()}
        print(
            f"audit trail of a backup run, median over {arguments.trail_runs} runs: "
            + ", ".join(f"{name} {value:.2f} ms" for name, value in medians.items())
            + "; goal < 10 ms"
        )
        if arguments.compare_with:
            compare(arguments.compare_with, arguments.ab_runs, root)
    finally:
        shutil.rmtree(root)


def _host() -> str:
    return socket.gethostname()


if __name__ == "__main__":
    main()
