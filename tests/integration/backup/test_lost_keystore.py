"""`init` with a lost keystore never touches a location that already holds a repository the
current keystore cannot open, and points to `backupctl keys recover`; `status` does not advise
`backupctl init` then. Real restic, a real OpenSSH server and an S3-compatible server."""

from __future__ import annotations

import hashlib
import json

import pytest

from backupctl.keys import master_secret
from backupctl.keys import store as keystore
from backupctl.keys.secret import Secret


def _tree(root) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("new_entry", [None, "a-different-password"])
def test_init_with_a_replaced_keystore_is_refused_and_touches_nothing(backup_env, new_entry):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    before = {name: _tree(env.root / name / env.source) for name in ("disk", "sftp-root")}

    (env.root / "keystore.bin").unlink()  # lost; the operator starts a new one
    env.backupctl("keys", "init", check=True)
    credentials = f"{env.s3.access_key_id}\n{env.s3.secret_access_key}\n"
    env.backupctl("location", "set-credentials", "s3-de", input=credentials, check=True)
    if new_entry is not None:
        master = master_secret.load_master_secret(
            key_file=env.root / "master.key", key_command=None
        )
        store = keystore.Keystore.open(env.root / "keystore.bin", master)
        store.set(f"repo/{env.source}", Secret(new_entry))
        store.save()

    result = env.backupctl("init", "--json")
    assert result.returncode == 3, result.stdout + result.stderr
    (source,) = json.loads(result.stdout)["sources"]
    assert {entry["location"] for entry in source["locations"]} == {"disk", "sftp-de", "s3-de"}
    assert all(
        not entry["ok"] and "backupctl keys recover" in entry["reason"]
        for entry in source["locations"]
    )
    assert source["created_at"] is None
    after = {name: _tree(env.root / name / env.source) for name in ("disk", "sftp-root")}
    assert after == before

    status = env.backupctl("status", "--json")
    assert status.returncode == 1
    warnings = json.loads(status.stdout)["sources"][0]["warnings"]
    assert any("backupctl keys recover" in warning for warning in warnings), warnings
    assert "run `backupctl init`" not in status.stdout
