"""Write-once audit checkpoints in an S3 bucket with object lock (the session's moto server):
retained in compliance mode, so even an intruder who rewrites the log *and* re-anchors a new
checkpoint at every ordinary location is caught by the checkpoints the bucket still holds."""

from __future__ import annotations

import datetime
import secrets
import sqlite3

import botocore.exceptions
import pytest

from backupctl import config, state
from backupctl.actions import audit as audit_action
from backupctl.actions import audit_anchor
from backupctl.audit import checkpoint, log
from backupctl.errors import ExitCode
from backupctl.keys import access as keyaccess
from backupctl.keys import master_secret
from backupctl.keys.secret import Secret
from targets import errors, s3_lock

HOST = "backup-host-1"


def locked_bucket(s3_server) -> str:
    bucket = f"lock-{secrets.token_hex(6)}"
    s3_server.client().create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": s3_server.region},
        ObjectLockEnabledForBucket=True,
    )
    return bucket


def test_a_locked_object_cannot_be_deleted_and_newest_lists_in_size_order(s3_server):
    bucket = locked_bucket(s3_server)
    spec = s3_server.make_spec("lock", bucket, "anchors/audit-checkpoints")
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    for size in (9, 10, 100):
        s3_lock.put_locked(spec, f"h/{size:012d}.json", b"%d" % size, retain_until=until)
    assert s3_lock.newest(spec, "h", count=2) == [
        ("000000000010.json", b"10"),
        ("000000000100.json", b"100"),
    ]
    client = s3_server.client()
    key = "anchors/audit-checkpoints/h/000000000100.json"
    version = client.head_object(Bucket=bucket, Key=key)["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError):
        client.delete_object(Bucket=bucket, Key=key, VersionId=version)


def test_a_bucket_without_object_lock_refuses_a_locked_put(s3_server):
    bucket = s3_server.create_bucket(f"plain-{secrets.token_hex(6)}")
    spec = s3_server.make_spec("plain", bucket, "audit-checkpoints")
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    with pytest.raises(errors.TargetError):
        s3_lock.put_locked(spec, "h/000000000001.json", b"1", retain_until=until)


def make_config(root, s3_server, bucket) -> config.Config:
    master_secret.generate_master_key_file(root / "master.key")
    (root / "a").mkdir()
    (root / "b").mkdir()
    raw = {
        "backupctl": {
            "state_dir": str(root / "state"),
            "keystore": str(root / "ks.bin"),
            "master_key_file": str(root / "master.key"),
            "audit_lock_location": "vault",
            "audit_lock_days": 30,
        },
        "locations": {
            "a": {"kind": "local", "country": "NL", "offsite": False, "path": str(root / "a")},
            "b": {"kind": "local", "country": "DE", "offsite": True, "path": str(root / "b")},
            "vault": {
                "kind": "s3",
                "country": "DE",
                "offsite": True,
                "endpoint": s3_server.endpoint,
                "bucket": bucket,
                "prefix": "anchors",
                "region": s3_server.region,
            },
        },
        "sources": {"mail": {"paths": [str(root)], "tenant": "acme", "locations": ["a", "b"]}},
    }
    loaded = config.parse(raw, root / "c.toml")
    keystore = keyaccess.open_keystore(loaded, create=True)
    keystore.set("location/vault/access_key_id", Secret(s3_server.access_key_id))
    keystore.set("location/vault/secret_access_key", Secret(s3_server.secret_access_key))
    keystore.save()
    return loaded


def run_and_anchor(loaded: config.Config, actor: str, count: int) -> None:
    db = state.db_path(loaded.state_dir)
    for index in range(count):
        log.append(db, log.Event("backup.run", actor, "ok", details={"run": index}))
    made = checkpoint.make(db, loaded.state_dir, host=HOST)
    keystore = keyaccess.open_keystore(loaded)
    names = ["a", "b", loaded.audit_lock_location]
    assert audit_anchor.anchor_at(loaded, keystore, made, names).written == tuple(names)


def test_a_log_rewritten_and_re_anchored_everywhere_is_caught_by_the_locked_checkpoints(
    tmp_path, s3_server
):
    loaded = make_config(tmp_path, s3_server, locked_bucket(s3_server))
    run_and_anchor(loaded, "olga", 5)
    run_and_anchor(loaded, "olga", 5)
    result = audit_action.verify(loaded, host=HOST, actor="ann")
    assert result.exit_code == ExitCode.OK, result.problems
    assert [(check.location, check.tree_size) for check in result.anchors] == [
        ("a", 10),
        ("b", 10),
        ("vault", 10),
    ]

    db = state.db_path(loaded.state_dir)
    with sqlite3.connect(db) as connection:  # root rewrites the log and signs a new head
        connection.execute("DELETE FROM audit_log")
        connection.execute("DELETE FROM audit_checkpoints")
    run_and_anchor(loaded, "mallory", 14)  # ... and anchors it at every location it can write
    result = audit_action.verify(loaded, host=HOST, actor="ann")
    assert result.exit_code == ExitCode.FAILED
    caught = [problem.text for problem in result.problems if problem.kind == "replaced"]
    assert any("000000000010.json at vault" in text for text in caught), caught
    assert any("000000000005.json at vault" in text for text in caught), caught
