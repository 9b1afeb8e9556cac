"""Rotation on two real local locations with real restic: a location down during rotation is
reported and caught up later without any forgotten snapshot coming back; a rotation interrupted
between forget and prune, or between prune and the deletion at the other location, is finished
by the next run; each shipped policy's keep rules as restic snapshots meet them."""

from __future__ import annotations

import datetime
import json
import re
import signal
import subprocess
import time

import pytest

from backupctl import config as config_module
from backupctl.actions import rotate as rotate_action
from backupctl.progress import NoProgress
from backupctl.restic import operations
from backupctl.rotation import records
from backupctl.rotation.progress import NoSteps
from tests.fixtures import restic_binaries
from tests.integration.backup import rotation_helpers as helpers
from tests.integration.backup.rotation_helpers import days_ago, snapshot_files

# Most of these tests exercise backupctl's own bookkeeping, not restic's output: one restic (the
# system's) is enough; the stale-lock one and the end-to-end test run on every version.
SYSTEM_RESTIC = restic_binaries.SYSTEM_RESTIC


def _results(completed) -> dict:
    report = json.loads(completed.stdout)
    return {entry["location"]: entry for entry in report["sources"][0]["locations"]}


def _status_warnings(env) -> list[str]:
    return json.loads(env.backupctl("status", "--json").stdout)["sources"][0]["warnings"]


def _rotate_in_process(env) -> None:
    rotate_action.rotate(
        config_module.load(env.config),
        names=(),
        dry_run=False,
        as_of=None,
        progress=NoProgress(),
        steps=NoSteps(),
        actor="test",
        host="test",
    )


def _with_expired_snapshot(tmp_path, restic_binary):
    env = helpers.set_up(tmp_path, restic_binary)
    old = helpers.toolkit_snapshot(env, when=days_ago(400), recorded=days_ago(400))
    (tmp_path / "data" / "changing.txt").write_text("today's content\n")  # old data unique
    env.backupctl("backup", "--quiet", check=True)  # a current snapshot; the old one copied to b
    assert old in snapshot_files(env.repo("b"))
    return env, old


def _assert_same_and_sound(env, *, follower: str = "b") -> None:
    """a and b hold the same files, and the copy that followed through replication is a sound
    repository for plain restic (the other is where restic itself pruned)."""
    assert helpers.listing(env.repo("a")) == helpers.listing(env.repo("b"))
    check = env.restic(follower, "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_location_down_is_reported_then_caught_up_without_resurrection(tmp_path):
    """The first location (a) is down: b forgets and prunes; a is caught up later, receiving
    what prune wrote at b and losing what it deleted, and nothing forgotten comes back."""
    env, old = _with_expired_snapshot(tmp_path, SYSTEM_RESTIC)
    before = json.loads(env.backupctl("status", "--json").stdout)["sources"][0]
    assert any("older than the maximum age" in warning for warning in before["warnings"])
    ages = {age["location"]: age for age in before["retention"]["locations"]}
    assert ages["a"]["expired"] == 1 and ages["a"]["oldest_age_days"] > 365
    (tmp_path / "disk-a").rename(tmp_path / "disk-a-unmounted")

    rotate = env.backupctl("rotate", "--json")
    assert rotate.returncode == 1, rotate.stdout + rotate.stderr
    results = _results(rotate)
    assert results["b"]["ok"] and "forgot 1 snapshot(s)" in results["b"]["reason"]
    assert not results["a"]["ok"] and "expired data still held" in results["a"]["reason"]
    assert old not in snapshot_files(env.repo("b"))
    pruned_at_b = set(helpers.listing(env.repo("b")))
    assert any("expired data still held" in warning for warning in _status_warnings(env))

    (tmp_path / "disk-a-unmounted").rename(tmp_path / "disk-a")
    env.backupctl("backup", "--quiet", check=True)  # catch-up: deletes there, copies nothing back
    assert old not in snapshot_files(env.repo("a")) | snapshot_files(env.repo("b"))
    assert pruned_at_b <= set(helpers.listing(env.repo("a")))  # what prune wrote reached a

    again = env.backupctl("rotate", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert not any("expired data still held" in warning for warning in _status_warnings(env))
    _assert_same_and_sound(env, follower="a")


def _holds_a_whole_lock(locks) -> bool:
    """A non-empty lock under its final name: restic 0.14 writes "<id>-tmp-<n>", syncs and
    renames it, and a restic killed before the rename leaves no lock restic would honour."""
    try:
        return any(
            re.fullmatch(r"[0-9a-f]{64}", path.name) and path.stat().st_size
            for path in locks.iterdir()
        )
    except OSError:  # no locks folder yet, or a lock removed while looking
        return False


def _leave_a_stale_lock(env, location: str) -> None:
    """Start plain restic (a backup reading stdin, which holds its lock while it waits) and kill
    it outright once its lock file exists: the lock stays, its process is gone."""
    process = subprocess.Popen(
        (
            env.restic_binary, "-r", str(env.repo(location)), "--password-file",
            str(env.password_file()), "--no-cache", "backup", "--stdin",
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    locks = env.repo(location) / "locks"
    deadline = time.monotonic() + 60
    while not _holds_a_whole_lock(locks):
        assert process.poll() is None, "restic ended before it took its lock"
        assert time.monotonic() < deadline, "restic never took its lock"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdin.close()


def test_crash_between_forget_and_prune_is_finished_by_the_next_run(
    tmp_path, monkeypatch, restic_binary
):
    # on every restic version: the stale lock is where 0.14 and 0.18 differ (0.18 could wait)
    env, old = _with_expired_snapshot(tmp_path, restic_binary)
    packs_before = {p for p in helpers.listing(env.repo("a")) if p.startswith("data/")}

    def die(*args, **kwargs):
        # the process dies right here; no signal can be aimed between two restic runs reliably
        raise KeyboardInterrupt

    monkeypatch.setattr(operations, "prune", die)
    with pytest.raises(KeyboardInterrupt):
        _rotate_in_process(env)
    monkeypatch.undo()
    assert old not in snapshot_files(env.repo("a"))  # forgotten, not yet pruned
    assert records.unfinished(env.db, "books").stage == "prune"
    assert any("unfinished" in warning for warning in _status_warnings(env))

    _leave_a_stale_lock(env, "a")  # as a run killed in the middle of prune would
    finish = env.backupctl("rotate", "--json")
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert "finished the rotation run" in json.loads(finish.stdout)["sources"][0]["resumed"]
    assert "removing stale locks" in finish.stderr
    assert records.unfinished(env.db, "books") is None
    assert old not in snapshot_files(env.repo("b"))
    packs_after = {p for p in helpers.listing(env.repo("a")) if p.startswith("data/")}
    assert packs_before - packs_after, "prune deleted no pack of the forgotten snapshot"
    _assert_same_and_sound(env)


def test_crash_between_prune_and_deletion_elsewhere_is_finished_by_the_next_run(
    tmp_path, monkeypatch
):
    env, old = _with_expired_snapshot(tmp_path, SYSTEM_RESTIC)
    from backupctl.actions import replicate

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after prune, before the other location

    monkeypatch.setattr(replicate, "replicate", die)
    with pytest.raises(KeyboardInterrupt):
        _rotate_in_process(env)
    monkeypatch.undo()
    pruned = set(helpers.listing(env.repo("a")))
    assert old not in snapshot_files(env.repo("a")) and old in snapshot_files(env.repo("b"))
    assert set(helpers.listing(env.repo("b"))) - pruned  # b still holds what prune deleted

    finish = env.backupctl("rotate", "--json")
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert old not in snapshot_files(env.repo("b"))
    assert set(helpers.listing(env.repo("a"))) == pruned  # nothing deleted came back to a
    _assert_same_and_sound(env)


# Days before yesterday noon (UTC), and an hour earlier on the same day for "0-early".
AGES = {"0": (0, 0), "0-early": (0, 1), "2": (2, 0), "80": (80, 0), "95": (95, 0)}
AGES |= {"340": (340, 0), "370": (370, 0)}
EXPECTED_FORGOTTEN = {
    # daily 14 keeps the newest of each of the 14 newest days: not the earlier one of a day
    "backup-12m": {"0-early", "370"},
    "cdr-1y": {"0-early", "370"},
    "camera-90d": {"0-early", "95", "340", "370"},
}


def test_each_shipped_policy_keeps_what_its_rules_say(tmp_path):
    env = helpers.set_up(tmp_path, SYSTEM_RESTIC)
    base = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    ids = {}
    for label, (days, hours) in AGES.items():
        when = base - datetime.timedelta(days=days, hours=hours)
        # a change backup follows the same rules as any other
        tags = ("change:CHG-7",) if label in ("0-early", "80") else ()
        ids[label] = helpers.toolkit_snapshot(env, when=when, recorded=when, extra_tags=tags)
    for policy, forgotten in EXPECTED_FORGOTTEN.items():
        env.policy = policy
        env.write_config()
        plan = env.backupctl("rotate", "--dry-run", "--json")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        verdicts = {s["id"]: s for s in json.loads(plan.stdout)["sources"][0]["snapshots"]}
        assert {label for label, sid in ids.items() if not verdicts[sid]["keep"]} == forgotten
    assert set(ids.values()) <= snapshot_files(env.repo("a")), "a dry run deleted something"
