"""A hostile snapshot (names '..', '../x', one name as a symlink and a directory) cannot make a
restore write outside its target: restic 0.14 and 0.18 refuse such names themselves, and
backupctl refuses the whole snapshot before restic writes anything."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from backupctl import state
from backupctl.actions import restore as actions
from backupctl.actions import restore_run
from backupctl.audit import log
from backupctl.errors import RefusedError
from tests.fixtures import forged_repo
from tests.fixtures.restic_binaries import SYSTEM_RESTIC
from tests.fixtures.restore_env import make_restore_env

PASSWORD = "forged-test-password"


def _hostile(outside: pathlib.Path) -> tuple:
    return forged_repo.HOSTILE_ENTRIES + forged_repo.symlink_then_directory(str(outside))


def test_plain_restic_writes_nothing_outside_its_target(tmp_path, restic_binary):
    environment = {**os.environ, "RESTIC_PASSWORD": PASSWORD}
    repository, outside, target = tmp_path / "repo", tmp_path / "outside", tmp_path / "in" / "t"
    outside.mkdir()
    target.mkdir(parents=True)
    subprocess.run(
        (restic_binary, "init", "-r", str(repository)),
        env=environment,
        check=True,
        capture_output=True,
    )
    forged_repo.forge(repository, PASSWORD, _hostile(outside))
    result = subprocess.run(
        (
            restic_binary,
            "-r",
            str(repository),
            "--no-cache",
            "restore",
            "latest",
            "--target",
            str(target),
        ),
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "invalid child node name" in result.stderr
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["t"]
    assert not (tmp_path / "escaped").exists()


@pytest.fixture(scope="module")
def forged_env(tmp_path_factory):
    env = make_restore_env(tmp_path_factory.mktemp("forged"), SYSTEM_RESTIC)
    for name in ("alice", "bob"):
        env.enroll(name)
    return env


def test_backupctl_refuses_a_hostile_snapshot_before_restic_writes(forged_env, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    snapshot = forged_repo.forge(
        forged_env.root / "near" / "shop", forged_env.password(), _hostile(outside)
    )
    config = forged_env.config()
    destination = forged_env.root / "restores" / "hostile"
    body = actions.request(
        config,
        forged_env.spec(destination=str(destination), snapshot=snapshot[:12]),
        actor=forged_env.actor("alice"),
        signer=forged_env.signer("alice"),
    )
    assert body.snapshot == snapshot
    actions.approve(config, body.id, actor=forged_env.actor("bob"), signer=forged_env.signer("bob"))
    with pytest.raises(RefusedError, match="an entry named '..'"):
        restore_run.run(config, body.id, actor=forged_env.actor("alice"))
    assert list(outside.iterdir()) == [] and list(destination.iterdir()) == []
    assert not list((forged_env.root / "restores").glob(".staging-*"))
    last = list(log.records(state.db_path(config.state_dir)))[-1]
    assert (last.action, last.outcome) == ("restore.run", "failed")


# A blob whose content does not match its id: encrypted and authenticated with the repository's
# key (someone with the password, or a bug in a writer), so only the content check can see it.
GOOD, BAD = b"paid invoices 2026\n", b"PAID INVOICES 2026\n"


def test_plain_restic_restore_checks_each_blob_against_its_id(tmp_path, restic_binary):
    """backupctl relies on this instead of `--verify` (docs/restore.md): restic, without
    --verify, refuses a blob whose content is not what its id says, and fails the restore."""
    environment = {**os.environ, "RESTIC_PASSWORD": PASSWORD}
    repository, target = tmp_path / "repo", tmp_path / "target"
    subprocess.run(
        (restic_binary, "init", "-r", str(repository)),
        env=environment,
        check=True,
        capture_output=True,
    )
    forged_repo.forge(repository, PASSWORD, (("invoices", "file", None),), content=GOOD, stored=BAD)
    result = subprocess.run(
        (restic_binary, "-r", str(repository), "--no-cache", "restore", "latest", "--target")
        + (str(target),),
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "wrong data returned" in result.stderr
    restored = target / "invoices"
    assert not restored.exists() or restored.read_bytes() != BAD


def test_backupctl_fails_a_restore_whose_content_does_not_match_the_snapshot(forged_env):
    snapshot = forged_repo.forge(
        forged_env.root / "near" / "shop",
        forged_env.password(),
        (("invoices", "file", None),),
        content=GOOD,
        stored=BAD,
    )
    config = forged_env.config()
    destination = forged_env.root / "restores" / "tampered"
    body = actions.request(
        config,
        forged_env.spec(destination=str(destination), snapshot=snapshot[:12]),
        actor=forged_env.actor("alice"),
        signer=forged_env.signer("alice"),
    )
    actions.approve(config, body.id, actor=forged_env.actor("bob"), signer=forged_env.signer("bob"))
    with pytest.raises(restore_run.RestoreFailed, match="restic restore from near"):
        restore_run.run(config, body.id, actor=forged_env.actor("alice"))
    assert list(destination.iterdir()) == []
    assert not restore_run.place.manifest_path(destination).exists()
    assert not list((forged_env.root / "restores").glob(".staging-*"))
    last = list(log.records(state.db_path(config.state_dir)))[-1]
    assert (last.action, last.outcome) == ("restore.run", "failed")
