"""The restore path in-process with real restic: request, approve, run, manifest; staff keys."""

from __future__ import annotations

import hashlib
import json
import pathlib

from backupctl import state
from backupctl.actions import restore as actions
from backupctl.actions import restore_run
from backupctl.audit import log


def test_request_approve_run_writes_a_verified_manifest(restore_env):
    config = restore_env.config()
    destination = restore_env.root / "restores" / "flow-1"
    body = actions.request(
        config,
        restore_env.spec(destination=str(destination)),
        actor=restore_env.actor("alice"),
        signer=restore_env.signer("alice"),
    )
    stored = actions.approve(
        config, body.id, actor=restore_env.actor("bob"), signer=restore_env.signer("bob")
    )
    assert stored.status == "approved"
    result = restore_run.run(config, body.id, actor=restore_env.actor("alice"))
    manifest = json.loads(result.manifest.read_text())
    assert result.manifest == destination.with_name("flow-1.manifest.json")
    originals = sorted((restore_env.root / "data").rglob("*.bin"))
    assert len(manifest["files"]) == len(originals) == result.files
    for entry in manifest["files"]:
        original = pathlib.Path(entry["path"])  # restic keeps the absolute path it backed up
        restored = destination / entry["path"].lstrip("/")
        assert entry["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
        assert hashlib.sha256(restored.read_bytes()).hexdigest() == entry["sha256"]
    link = destination / str(restore_env.root / "data" / "link-out").lstrip("/")
    assert link.is_symlink() and str(link.readlink()) == "/etc/hostname"
    assert not list((restore_env.root / "restores").glob(".staging-*"))
    actions_logged = [
        (record.action, record.outcome)
        for record in log.records(state.db_path(config.state_dir))
        if record.subjects.get("request") == body.id
    ]
    every_record = json.dumps(
        [
            r.__dict__
            for r in log.records(state.db_path(config.state_dir))
            if r.action.startswith(("restore.", "staff.", "browse"))
        ]
    )
    assert str(restore_env.root) not in every_record  # no paths, no file names in the log
    assert "customer asked" not in every_record  # a typed reason is kept as a digest only
    assert actions_logged == [
        ("restore.request", "ok"),
        ("restore.approve", "ok"),
        ("restore.run", "started"),
        ("restore.run", "ok"),
    ]


def test_break_glass_runs_without_approval_and_stays_loud_until_acknowledged(restore_env):
    from backupctl.actions import status

    config = restore_env.config()
    destination = restore_env.root / "restores" / "glass-1"
    body = actions.request(
        config,
        restore_env.spec(destination=str(destination), paths=(str(restore_env.root / "data"),)),
        actor=restore_env.actor("alice"),
        signer=restore_env.signer("alice"),
    )
    result = restore_run.run(
        config, body.id, actor=restore_env.actor("root"), break_glass_reason="outage INC-7"
    )
    assert result.break_glass and result.files == 12
    db = state.db_path(config.state_dir)
    glass = [r for r in log.records(db) if r.action == "restore.break_glass"]
    digest = hashlib.sha256(b"outage INC-7").hexdigest()
    assert glass[-1].subjects["request"] == body.id
    assert glass[-1].details["reason"] == {"sha256": digest, "length": 12}
    assert actions.show(config, body.id, actor=restore_env.actor("dave")).break_glass_reason == (
        "outage INC-7"
    )

    def loud() -> list[str]:
        return [w for w in status.status(config, names=(), now=_now()).warnings if body.id in w]

    assert loud() and "BREAK GLASS" in loud()[0]
    import pytest

    from backupctl.errors import RefusedError

    with pytest.raises(RefusedError, match="broke the glass"):
        actions.acknowledge(config, body.id, actor=restore_env.actor("root"))
    actions.acknowledge(config, body.id, actor=restore_env.actor("dave"))
    assert loud() == []
    assert [r.action for r in log.records(db)][-1] == "restore.break_glass_ack"


def test_break_glass_needs_the_admin_role(restore_env):
    import pytest

    from backupctl import access

    config = restore_env.config()
    body = actions.request(
        config,
        restore_env.spec(destination=str(restore_env.root / "restores" / "glass-2")),
        actor=restore_env.actor("alice"),
        signer=restore_env.signer("alice"),
    )
    with pytest.raises(access.AccessDenied, match="alice lacks the role admin"):
        restore_run.run(config, body.id, actor=restore_env.actor("alice"), break_glass_reason="x")


def _now():
    import datetime

    return datetime.datetime.now(datetime.UTC)


def test_run_restores_from_the_next_location_when_the_first_fails(restore_env):
    config = restore_env.config()
    body = actions.request(
        config,
        restore_env.spec(destination=str(restore_env.root / "restores" / "failover")),
        actor=restore_env.actor("alice"),
        signer=restore_env.signer("alice"),
    )
    actions.approve(
        config, body.id, actor=restore_env.actor("bob"), signer=restore_env.signer("bob")
    )
    near = restore_env.root / "near" / "shop"
    near.rename(near.with_name("shop-away"))
    try:
        result = restore_run.run(config, body.id, actor=restore_env.actor("alice"))
    finally:
        near.with_name("shop-away").rename(near)
    assert result.location == "far" and result.files == 12


def test_a_failed_run_leaves_nothing_and_is_recorded(restore_env):
    import pytest

    config = restore_env.config()
    destination = restore_env.root / "restores" / "fails"
    body = actions.request(
        config,
        restore_env.spec(destination=str(destination)),
        actor=restore_env.actor("alice"),
        signer=restore_env.signer("alice"),
    )
    actions.approve(
        config, body.id, actor=restore_env.actor("bob"), signer=restore_env.signer("bob")
    )
    moved = [restore_env.root / name / "shop" for name in ("near", "far")]
    for path in moved:
        path.rename(path.with_name("shop-away"))
    try:
        with pytest.raises(
            restore_run.RestoreFailed, match="no location of shop answered"
        ) as caught:
            restore_run.run(config, body.id, actor=restore_env.actor("alice"))
    finally:
        for path in moved:
            path.with_name("shop-away").rename(path)
    assert caught.value.exit_code == 3
    assert list(destination.iterdir()) == []
    assert not list((restore_env.root / "restores").glob(".staging-*"))
    last = list(log.records(state.db_path(config.state_dir)))[-1]
    assert (last.action, last.outcome, last.subjects["request"]) == (
        "restore.run",
        "failed",
        body.id,
    )
    assert str(restore_env.root) not in json.dumps(last.details)


def test_more_approvers_for_a_tenant_are_needed_before_it_runs(restore_env):
    import dataclasses

    import pytest

    from backupctl.config_restore import RestoreSettings
    from backupctl.errors import RefusedError

    config = restore_env.config()
    config = dataclasses.replace(
        config,
        restore=RestoreSettings(root=config.restore.root, tenant_approvals={"customer-7": 2}),
    )
    body = actions.request(
        config,
        restore_env.spec(destination=str(restore_env.root / "restores" / "two-approvers")),
        actor=restore_env.actor("alice"),
        signer=restore_env.signer("alice"),
    )
    first = actions.approve(
        config, body.id, actor=restore_env.actor("bob"), signer=restore_env.signer("bob")
    )
    assert first.status == "pending"
    with pytest.raises(RefusedError, match="1 valid approval"):
        restore_run.run(config, body.id, actor=restore_env.actor("alice"))
    second = actions.approve(
        config, body.id, actor=restore_env.actor("carol"), signer=restore_env.signer("carol")
    )
    assert second.status == "approved"
    assert restore_run.run(config, body.id, actor=restore_env.actor("alice")).files == 12
