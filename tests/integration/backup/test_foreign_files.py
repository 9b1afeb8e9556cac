"""A location's content is never trusted: only files backupctl saw restic write (the source's
manifest) are copied. Real restic, a real OpenSSH server and an S3-compatible server."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

SNAPSHOT_PLANT_SIZE = 300
DATA_PLANT_SIZE = 24 * 1024 * 1024  # sparse; larger than any file in the manifest


def _plant_random(directory, size: int) -> str:
    content = os.urandom(size)
    name = hashlib.sha256(content).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(content)
    return name


def _plant_sparse_pack(repository, size: int) -> str:
    name = hashlib.sha256(bytes(size)).hexdigest()
    path = repository / "data" / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(size)
    return f"data/{name[:2]}/{name}"


def _snapshot_ids(env, location: str) -> set[str]:
    result = env.restic(location, "snapshots", "--json")
    assert result.returncode == 0, f"{location}: {result.stderr}"
    return {entry["id"] for entry in json.loads(result.stdout)}


def test_planted_files_are_not_copied_and_are_reported_foreign(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    sftp_repository = env.root / "sftp-root" / env.source
    disk_repository = env.root / "disk" / env.source
    planted = "snapshots/" + _plant_random(sftp_repository / "snapshots", SNAPSHOT_PLANT_SIZE)
    big = _plant_sparse_pack(disk_repository, DATA_PLANT_SIZE)

    (env.root / "data" / "new.txt").write_text("a change after the planting\n")
    result = env.backupctl("backup", "--json")
    assert result.returncode == 5, result.stdout + result.stderr
    report = json.loads(result.stdout)["sources"][0]
    assert {(f["location"], f["path"], f["size"]) for f in report["foreign"]} == {
        ("sftp-de", planted, SNAPSHOT_PLANT_SIZE),
        ("disk", big, DATA_PLANT_SIZE),
    }
    assert all(entry["ok"] for entry in report["locations"])
    assert not (disk_repository / planted).exists()
    assert not (sftp_repository / big).exists()
    s3_keys = env.restic("s3-de", "list", "snapshots")
    assert planted.split("/")[1] not in s3_keys.stdout
    for location in ("disk", "s3-de"):
        assert len(_snapshot_ids(env, location)) == 2
    s3_data = env.restic("s3-de", "list", "packs")
    assert s3_data.returncode == 0 and big.rsplit("/", 1)[1] not in s3_data.stdout

    status = env.backupctl("status", "--json")
    assert status.returncode == 1
    source = json.loads(status.stdout)["sources"][0]
    assert {(f["location"], f["path"]) for f in source["foreign"]} == {
        ("sftp-de", planted),
        ("disk", big),
    }
    assert any("foreign file" in warning for warning in source["warnings"])


def test_a_deleted_snapshot_file_is_restored_from_an_intact_copy(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    lost = next((env.root / "sftp-root" / env.source / "snapshots").iterdir())
    content = (env.root / "disk" / env.source / "snapshots" / lost.name).read_bytes()
    lost.unlink()  # not a deletion by backupctl: the manifest still holds it

    result = env.backupctl("backup", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lost.read_bytes() == content
    assert len(_snapshot_ids(env, "sftp-de")) == 2


def test_a_deployment_without_a_manifest_adopts_the_primary_once(backup_env):
    env = backup_env
    env.backupctl("init", check=True)
    env.backupctl("backup", check=True)
    with sqlite3.connect(env.root / "state" / "state.db") as connection:
        connection.execute("DELETE FROM manifest_files")
        connection.execute("DELETE FROM manifest_sources")
    planted = "snapshots/" + _plant_random(env.root / "sftp-root" / env.source / "snapshots", 200)

    result = env.backupctl("backup", "--json")
    assert result.returncode == 5, result.stdout + result.stderr
    assert "adopted" in result.stderr and "disk" in result.stderr
    report = json.loads(result.stdout)["sources"][0]
    assert [(f["location"], f["path"]) for f in report["foreign"]] == [("sftp-de", planted)]
    again = env.backupctl("backup", "--json")
    assert "adopted" not in again.stderr
