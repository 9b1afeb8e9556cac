"""The 12-month cut on every location, through the installed command, checked with plain restic
at each location: a local directory, a real OpenSSH server and an S3-compatible server.

Snapshots are backdated with `restic backup --time`: the toolkit's own (added to the manifest
with a recorded time, as a backup would, and copied to every location by the next backup), one
with a forged new time (restic says two days, backupctl recorded it 400 days ago), and one made
by hand at the SFTP location only with a forged old time (restic says 500 days; backupctl first
sees it today).
"""

from __future__ import annotations

import datetime
import json

from backupctl import state
from backupctl.restic import messages
from tests.integration.backup import rotation_helpers as helpers
from tests.integration.backup.rotation_helpers import days_ago

MAX_AGE = datetime.timedelta(days=365)


def _toolkit_snapshot(env, *, when, recorded) -> str:
    disk = env.root / "disk" / env.source
    password_file = env.root / "rotation-password"
    password_file.write_text(env.password())
    password_file.chmod(0o600)
    before = helpers.listing(disk)
    snapshot_id = helpers.make_snapshot(
        disk,
        env.restic_binary,
        password_file,
        env.root / "data",
        when=when,
        tags=("backupctl", f"source:{env.source}", "tenant:customer-7"),
    )
    helpers.as_toolkit_snapshot(
        state.db_path(env.root / "state"),
        env.source,
        disk,
        before,
        snapshot_id,
        recorded=recorded,
        location="disk",
    )
    return snapshot_id


def _sftp_listing(env) -> dict[str, int]:
    """The SFTP location's files (its server runs on this host: its root is a local directory)."""
    return helpers.listing(env.root / "sftp-root" / env.source)


def _snapshots(env, location: str) -> dict[str, datetime.datetime]:
    listed = env.restic(location, "snapshots", "--json")
    assert listed.returncode == 0, listed.stderr
    return {s["id"]: messages.parse_time(s["time"]) for s in json.loads(listed.stdout or "[]")}


def test_no_location_holds_a_snapshot_past_the_maximum_age_after_rotation(backup_env):
    env = backup_env
    env.backupctl("init", "--quiet", check=True)
    old = _toolkit_snapshot(env, when=days_ago(395), recorded=days_ago(395))
    forged_new = _toolkit_snapshot(env, when=days_ago(2), recorded=days_ago(400))
    young = _toolkit_snapshot(env, when=days_ago(300), recorded=days_ago(300))
    (env.root / "data" / "changing.txt").write_text("today\n")
    env.backupctl("backup", "--quiet", check=True)  # copies all three to SFTP and S3
    made = env.restic(
        "sftp-de",
        "backup",
        "-q",
        "--time",
        helpers.restic_time(days_ago(500)),
        str(env.root / "data"),
    )
    assert made.returncode == 0, made.stderr
    (forged_old,) = set(_snapshots(env, "sftp-de")) - set(_snapshots(env, "disk"))
    expired = {old, forged_new, forged_old}

    plan = env.backupctl("rotate", "--dry-run", "--json")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    verdicts = {s["id"]: s for s in json.loads(plan.stdout)["sources"][0]["snapshots"]}
    assert {sid for sid, verdict in verdicts.items() if not verdict["keep"]} == expired
    assert verdicts[forged_old]["locations"] == ["sftp-de"]
    assert expired <= set(_snapshots(env, "disk")) | set(_snapshots(env, "sftp-de"))

    disk = env.root / "disk" / env.source
    foreign_before = set(_sftp_listing(env)) - set(helpers.listing(disk))
    run = env.backupctl("rotate", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    rotated = json.loads(run.stdout)["sources"][0]
    assert all(result["ok"] for result in rotated["locations"]), rotated["locations"]
    # the bucket keeps deleted objects up to 31 days: rotation forgets that much earlier
    assert rotated["cut_days"] == 365 - 31
    # the hand-made snapshot's data at the SFTP location is destroyed too, not left as foreign
    assert rotated["foreign"] == []
    assert foreign_before and not foreign_before & set(_sftp_listing(env))
    assert _sftp_listing(env) == helpers.listing(disk)

    now = datetime.datetime.now(datetime.UTC)
    for location in ("disk", "sftp-de", "s3-de"):
        held = _snapshots(env, location)
        assert not expired & set(held), location
        assert young in held, location
        assert all(now - moment <= MAX_AGE for moment in held.values()), location
        check = env.restic(location, "check")
        assert check.returncode == 0, check.stdout + check.stderr

    status = json.loads(env.backupctl("status", "--json").stdout)["sources"][0]
    ages = {
        entry["location"]: entry["oldest_age_days"] for entry in status["retention"]["locations"]
    }
    assert set(ages) == {"disk", "sftp-de", "s3-de"}
    assert all(age <= 365 for age in ages.values()), ages
    audit = json.loads(env.backupctl("location", "audit", "s3-de", "--json").stdout)
    (promise,) = [c for c in audit["checks"] if c["setting"] == "retention_promise"]
    assert promise["ok"] and "365 days" in promise["reason"]
    history = json.loads(env.backupctl("history", "--json", "--limit", "1").stdout)["runs"][0]
    steps = {(event["location"], event["step"]) for event in history["rotation"]}
    assert {
        ("disk", "forget"),
        ("disk", "prune"),
        ("s3-de", "delete"),
        ("sftp-de", "prune"),
        ("sftp-de", "verify"),
    } <= steps
