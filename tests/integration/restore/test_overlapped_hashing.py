"""The manifest's hashes while restic restores (restic >= 0.17 reports each file done) and after
it (restic 0.14 reports nothing per file): the same manifest either way, with real restic."""

from __future__ import annotations

import hashlib
import json
import logging
import pathlib
import random
import subprocess

import pytest

from backupctl.actions import restore as actions
from backupctl.actions import restore_run
from tests.fixtures.restore_env import make_restore_env


def _more_data(data: pathlib.Path) -> None:
    """Files restic writes in several blobs (from several packs), an empty one, a hard link."""
    generator = random.Random(17)
    for index in range(2):
        (data / f"large-{index}.bin").write_bytes(generator.randbytes(5 * 1024 * 1024 + index))
    (data / "empty.bin").write_bytes(b"")
    (data / "dir0" / "linked.bin").hardlink_to(data / "dir0" / "file-0000.bin")


@pytest.fixture(scope="module")
def overlap_env(tmp_path_factory, restic_binary):
    env = make_restore_env(tmp_path_factory.mktemp("overlap"), restic_binary, more_data=_more_data)
    for name in ("alice", "bob"):
        env.enroll(name)
    return env


def _version(restic: str) -> tuple[int, ...]:
    output = subprocess.run((restic, "version"), capture_output=True, text=True, check=True)
    return tuple(int(part) for part in output.stdout.split()[1].split(".")[:3])


def _approved(env, destination: pathlib.Path, **changes) -> str:
    config = env.config()
    body = actions.request(
        config,
        env.spec(destination=str(destination), **changes),
        actor=env.actor("alice"),
        signer=env.signer("alice"),
    )
    actions.approve(config, body.id, actor=env.actor("bob"), signer=env.signer("bob"))
    return body.id


def test_the_manifest_holds_each_original_files_hash_hashed_while_restic_runs_where_it_can(
    overlap_env, caplog
):
    destination = overlap_env.root / "restores" / "overlap-all"
    request_id = _approved(overlap_env, destination)
    with caplog.at_level(logging.DEBUG, logger="backupctl.actions.restore_run"):
        result = restore_run.run(overlap_env.config(), request_id, actor=overlap_env.actor("alice"))
    manifest = json.loads(result.manifest.read_text())
    data = overlap_env.root / "data"
    originals = sorted(
        str(path) for path in data.rglob("*") if path.is_file() and not path.is_symlink()
    )
    assert [entry["path"] for entry in manifest["files"]] == originals
    for entry in manifest["files"]:
        original = pathlib.Path(entry["path"]).read_bytes()
        assert (entry["size"], entry["sha256"]) == (
            len(original),
            hashlib.sha256(original).hexdigest(),
        )
    (early,) = [
        record.getMessage() for record in caplog.records if "hashed while" in record.message
    ]
    # 0.17+: every file (the hard link's second name included) handed over while restic ran;
    # 0.14 reports nothing per file, so every file is hashed after restic
    hashed_early = len(originals) if _version(overlap_env.restic) >= (0, 17, 0) else 0
    assert f"; {hashed_early} of {len(originals)} file(s) hashed while restic ran;" in early


def test_a_requested_path_restores_and_hashes_only_its_files(overlap_env):
    destination = overlap_env.root / "restores" / "overlap-dir0"
    dir0 = str(overlap_env.root / "data" / "dir0")
    request_id = _approved(overlap_env, destination, paths=(dir0,))
    # restic also reports the directories above dir0 restored: no difference
    result = restore_run.run(overlap_env.config(), request_id, actor=overlap_env.actor("alice"))
    manifest = json.loads(result.manifest.read_text())
    expected = sorted(str(path) for path in pathlib.Path(dir0).iterdir())
    assert [entry["path"] for entry in manifest["files"]] == expected
    for entry in manifest["files"]:
        restored = destination / entry["path"].lstrip("/")
        assert hashlib.sha256(restored.read_bytes()).hexdigest() == entry["sha256"]


def test_a_path_restic_reports_that_is_not_in_the_listing_fails_the_restore(overlap_env, tmp_path):
    # restic never reports a path outside the snapshot; a wrapper around the real binary adds
    # such a line to what restic prints, as a forged or faulty restic would
    wrapper = tmp_path / "restic-reporting-more"
    line = '{"message_type":"verbose_status","action":"restored","item":"/not/listed","size":0}'
    wrapper.write_text(
        "#!/bin/sh\n"
        f'"{overlap_env.restic}" "$@"\n'
        "status=$?\n"
        f'case " $* " in *" restore "*) printf "%s\\n" \'{line}\' ;; esac\n'
        "exit $status\n"
    )
    wrapper.chmod(0o755)
    destination = overlap_env.root / "restores" / "overlap-forged"
    request_id = _approved(overlap_env, destination)
    real = overlap_env.restic
    overlap_env.restic = str(wrapper)
    overlap_env.write_config()
    try:
        with pytest.raises(restore_run.RestoreFailed, match="/not/listed: restic reports it"):
            restore_run.run(overlap_env.config(), request_id, actor=overlap_env.actor("alice"))
    finally:
        overlap_env.restic = real
        overlap_env.write_config()
    assert list(destination.iterdir()) == []
    assert not list((overlap_env.root / "restores").glob(".staging-*"))
