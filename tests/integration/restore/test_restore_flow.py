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
    assert actions_logged == [
        ("restore.request", "ok"),
        ("restore.approve", "ok"),
        ("restore.run", "started"),
        ("restore.run", "ok"),
    ]
