"""Restore throughput: `backupctl restore run` against plain `restic restore` of one snapshot.

Builds a deterministic tree (the backup benchmark's layout: a few large files, the rest
log-uniform, incompressible), backs it up once with backupctl to two local locations, then times
in rotating order, ``--runs`` times each:

| measured | what it is |
| --- | --- |
| `restic` | `restic restore SNAPSHOT --target DIR --key-hint ID`, password from a file |
| `restic-verify` | the same with `--verify` (restic reads every restored file back) |
| `backupctl` | `backupctl restore run ID` of a signed, approved request (requests made untimed) |

backupctl's run is plain `restic restore` (restic checks every blob it loads against its id, the
SHA-256 of its content; docs/restore.md) plus its own work: `restic ls` of the tree before, a
comparison of the restored tree with it, one read of every file for the manifest's SHA-256 (two
threads), and the move into place. `restic-verify` is what the first version ran inside. The goal
of issue 9: `backupctl` within 5% of `restic`. Plain restic gets the same `--key-hint` of the
repository's fast key that backupctl gives each restic it starts (docs/keystore.md): the same key,
hence the same cost to open the repository. Run as root; ``--drop-caches`` drops the page
cache before each timed command (global: only on a quiet machine); ``--restic`` picks the binary
(restic 0.18: ``.cache/restic-trixie/usr/bin/restic``).

``--from far --link-mbit 1000`` restores from an off-site location instead: the source's first
location is then an SFTP server behind a link shaped to that speed (benchmarks/shaped_link.py),
and both backupctl and plain restic read the repository from it, plain restic with the same ssh
command backupctl gives restic. Without it both read the local location ``near``, whose
repository sits in the page cache.

    .venv/bin/python benchmarks/restore_bench.py [--size-mib 256] [--files 2000] [--runs 3]
        [--from near|far] [--link-mbit 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks import shaped_link  # noqa: E402
from benchmarks.backup_bench import build_tree, plan_tree, timed  # noqa: E402
from targets import sftp  # noqa: E402

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
LOCAL_FAR = """
[locations.far]
kind = "local"
path = "{root}/far"
country = "DE"
offsite = true
"""
SFTP_FAR = """
[locations.far]
kind = "sftp"
host = "{ssh.host}"
port = {ssh.port}
user = "{ssh.user}"
path = "{root}/far"
identity_file = "{ssh.identity_file}"
known_hosts = "{ssh.known_hosts}"
country = "DE"
offsite = true
"""
CONFIG = """
[backupctl]
state_dir = "{root}/state"
keystore = "{root}/keystore.bin"
master_key_file = "{root}/master.key"
restic = "{restic}"

[locations.near]
kind = "local"
path = "{root}/near"
country = "NL"
offsite = false

{far}

[sources.bench]
paths = ["{tree}"]
tenant = "bench"
locations = {locations}

[access.restore]
root = "{root}/restores"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--restic", default=shutil.which("restic") or "/usr/bin/restic")
    parser.add_argument(
        "--workdir", type=pathlib.Path, default=pathlib.Path("/var/tmp/backupctl-restore-bench")
    )
    parser.add_argument("--drop-caches", action="store_true")
    parser.add_argument(
        "--compare-with", type=pathlib.Path, help="older code (a tree): timed as backupctl-before"
    )
    parser.add_argument("--from", dest="source", choices=("near", "far"), default="near")
    parser.add_argument("--link-mbit", type=int, default=1000, help="the far location's link")
    args = parser.parse_args()
    root = args.workdir
    tree = root / "tree"
    root.mkdir(parents=True, exist_ok=True)
    build_tree(tree, plan_tree(args.size_mib << 20, args.files, args.seed), args.seed)
    setup = root / "setup"
    shutil.rmtree(setup, ignore_errors=True)
    setup.mkdir()
    with contextlib.ExitStack() as stack:
        server = None
        if args.source == "far":
            (setup / "sshd").mkdir()
            server = stack.enter_context(
                shaped_link.remote_sshd(setup / "sshd", mbit=args.link_mbit)
            )
        _time_all(args, setup, tree, server)


def _time_all(args, setup: pathlib.Path, tree: pathlib.Path, server) -> None:
    config, env = _set_up(setup, tree, args.restic, server)
    snapshot = env.snapshot_id()
    password_file = setup / "password"
    password_file.write_text(env.password() + "\n")
    password_file.chmod(0o600)
    repository = ("-r", str(setup / "near" / "bench"))
    if server is not None:
        store = sftp.SftpStore(server.make_spec("far", setup / "far"))
        repository = ("-r", store.restic_repository() + "/bench", *store.restic_options())
    times: dict[str, list[tuple[float, float]]] = {
        "restic": [],
        "restic-verify": [],
        "backupctl": [],
    }
    if args.compare_with:
        times["backupctl-before"] = []
    for run in range(args.runs):
        order = list(times)[run % len(times) :] + list(times)[: run % len(times)]
        for variant in order:
            target = setup / "restores" / f"{variant}-{run}"
            before = ["env", f"PYTHONPATH={args.compare_with}"]
            prefix = before if variant == "backupctl-before" else []
            if variant.startswith("backupctl"):
                request_id = env.approved_request(str(target))
                argv = [
                    *prefix,
                    str(BACKUPCTL),
                    "--config",
                    str(config),
                    "restore",
                    "run",
                    request_id,
                    "--quiet",
                ]
            else:
                argv = [
                    args.restic,
                    *repository,
                    "--password-file",
                    str(password_file),
                    *env.key_hint(),
                    "--no-cache",
                    "restore",
                    snapshot,
                    "--target",
                    str(target),
                ]
                argv += ["--verify"] if variant == "restic-verify" else []
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
            wall, cpu, _ = timed(argv, args.drop_caches)
            user = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before
            times[variant].append((wall, cpu, user))
            shutil.rmtree(target)
            os.sync()  # untimed: on a `discard` mount the freed blocks slow the next command
            print(
                f"run {run} {variant:<16} wall {wall:6.2f} s  cpu {cpu:6.2f} s  user {user:6.2f} s",
                flush=True,
            )
    _report(args, times)


def _set_up(setup: pathlib.Path, tree: pathlib.Path, restic: str, server):
    """Initialise, back up once, enroll and register two staff keys; return (config, helper).
    With an sshd, the location ``far`` is on it and comes first (restores read it)."""
    from backupctl.keys import master_secret

    for name in ("near", "far", "state", "restores"):
        (setup / name).mkdir()
    master_secret.generate_master_key_file(setup / "master.key")
    config = setup / "backupctl.toml"
    far, order = LOCAL_FAR.format(root=setup), ["near", "far"]
    if server is not None:
        far, order = SFTP_FAR.format(root=setup, ssh=server), ["far", "near"]
    config.write_text(
        CONFIG.format(root=setup, restic=restic, tree=tree, far=far, locations=json.dumps(order))
    )
    for command in (("init",), ("backup", "--quiet")):
        subprocess.run((str(BACKUPCTL), "--config", str(config), *command), check=True)
    helper = _Helper(setup, config, restic)
    for name in ("root", "bench-approver"):
        helper.enroll(name)
    return config, helper


def _helper_base():
    from tests.fixtures.restore_env import RestoreEnv

    return RestoreEnv


class _Helper(_helper_base()):
    def snapshot_id(self) -> str:
        return json.loads(self.restic_json("snapshots", "--json"))[-1]["id"]

    def key_hint(self) -> tuple[str, ...]:
        """Return ``--key-hint ID`` of the source's fast key, as backupctl gives it to restic."""
        from backupctl import state
        from backupctl.fastkey import records

        key_id = records.recorded(state.db_path(self.root / "state"), "bench")
        return ("--key-hint", key_id) if key_id else ()

    def restic_json(self, *args: str) -> str:
        read_end, write_end = os.pipe()
        os.write(write_end, self.password().encode() + b"\n")
        os.close(write_end)
        try:
            return subprocess.run(
                (
                    self.restic,
                    "-r",
                    str(self.root / "near" / "bench"),
                    "--no-cache",
                    "--password-file",
                    f"/dev/fd/{read_end}",
                    *self.key_hint(),
                    *args,
                ),
                capture_output=True,
                text=True,
                check=True,
                pass_fds=(read_end,),
            ).stdout
        finally:
            os.close(read_end)

    def password(self) -> str:
        from backupctl.keys import master_secret, store

        master = master_secret.load_master_secret(
            key_file=self.root / "master.key", key_command=None
        )
        return store.Keystore.open(self.root / "keystore.bin", master).get("repo/bench").reveal()

    def approved_request(self, destination: str) -> str:
        from backupctl.actions import restore as actions

        body = actions.request(
            self.config(),
            self.spec(source="bench", destination=destination, snapshot=self.snapshot_id()),
            actor=self.actor("root"),
            signer=self.signer("root"),
        )
        actions.approve(
            self.config(),
            body.id,
            actor=self.actor("bench-approver"),
            signer=self.signer("bench-approver"),
        )
        return body.id


def _report(args, times) -> None:
    """Print medians and ratios: wall, CPU (user + system) and user CPU alone (the system time of
    one command varies several-fold with the machine's memory pressure; user time does not)."""
    medians = {
        variant: tuple(statistics.median(value[index] for value in values) for index in range(3))
        for variant, values in times.items()
    }
    base = medians["restic"]
    summary = {
        "from": args.source if args.source == "near" else f"far, {args.link_mbit} Mbit/s",
        "size_mib": args.size_mib,
        "files": args.files,
        "runs": args.runs,
        "restic": args.restic,
        "drop_caches": args.drop_caches,
        "medians": {
            k: {"wall": round(w, 3), "cpu": round(c, 3), "user": round(u, 3)}
            for k, (w, c, u) in medians.items()
        },
        "ratio_wall": {k: round(m[0] / base[0], 3) for k, m in medians.items()},
        "ratio_cpu": {k: round(m[1] / base[1], 3) for k, m in medians.items()},
        "ratio_user": {k: round(m[2] / base[2], 3) for k, m in medians.items()},
        "mib_per_s": {k: round(args.size_mib / m[0], 1) for k, m in medians.items()},
    }
    print(json.dumps(summary, indent=2))
    results = pathlib.Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
    (results / f"restore-{stamp}.json").write_text(json.dumps({"summary": summary, "times": times}))


if __name__ == "__main__":
    main()
