"""Suspension blocks restores of a tenant through the restore gate, in-process with a real restic
repository (tests/fixtures/restore_env.py, shared per session: the tenant is resumed at the end
whatever happens)."""

from __future__ import annotations

import pytest

from backupctl import state
from backupctl.actions import restore as restore_actions
from backupctl.actions import restore_run
from backupctl.actions import tenant as tenant_actions
from backupctl.audit import log
from backupctl.errors import ExitCode, RefusedError


def _request(restore_env, config, destination: str):
    return restore_actions.request(
        config,
        restore_env.spec(destination=destination),
        actor=restore_env.actor("alice"),
        signer=restore_env.signer("alice"),
    )


def test_a_suspended_tenant_cannot_be_restored_and_backups_go_on(restore_env):
    config = restore_env.config()
    root = restore_env.root / "restores"
    approved = _request(restore_env, config, str(root / "suspended-1"))
    restore_actions.approve(
        config, approved.id, actor=restore_env.actor("bob"), signer=restore_env.signer("bob")
    )
    admin = restore_env.actor("root")
    shown = tenant_actions.suspend(config, "customer-7", reason="fraud inquiry 77", actor=admin)
    assert shown.state == "active, suspended"
    try:
        with pytest.raises(RefusedError) as ran:
            restore_run.run(config, approved.id, actor=restore_env.actor("alice"))
        assert ran.value.exit_code == ExitCode.REFUSED
        assert "tenant customer-7 may not be restored: suspended since" in str(ran.value)
        with pytest.raises(RefusedError, match="may not be restored: suspended"):
            _request(restore_env, config, str(root / "suspended-2"))
        assert not (root / "suspended-1").exists()
        restore_env.backupctl("backup", "--quiet")  # suspension does not stop backups
    finally:
        tenant_actions.resume(config, "customer-7", reason="inquiry closed", actor=admin)
    assert _request(restore_env, config, str(root / "suspended-3")).id
    records = [
        r
        for r in log.records(state.db_path(config.state_dir))
        if r.action in ("tenant.suspend", "tenant.resume")
    ]
    assert [(r.action, r.actor, r.subjects) for r in records] == [
        ("tenant.suspend", "root", {"tenant": "customer-7"}),
        ("tenant.resume", "root", {"tenant": "customer-7"}),
    ]
    assert "fraud" not in str([r.details for r in records])  # the typed reason as a digest only
    refused = [r for r in log.records(state.db_path(config.state_dir)) if r.outcome == "refused"]
    assert any("suspended since" in r.details.get("reason", "") for r in refused)
