"""The disaster path end to end: escrow + offline recovery key → one password on a pipe → plain
restic restores the files; the use is recorded (audit log, or the record file when backupctl's
own state is gone), and without any record no password comes out."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest

from backupctl import state
from backupctl.audit import log
from tests.fixtures.restore_env import BACKUPCTL

RECOVERY_PASSPHRASE = "offline vault passphrase 42"


@pytest.fixture(scope="module")
def disaster_env(restore_env):
    env = restore_env
    subprocess.run(
        (
            str(BACKUPCTL),
            "keys",
            "recovery-keygen",
            "--out-private",
            str(env.root / "rk.pem"),
            "--out-public",
            str(env.root / "rk.pub"),
            "--passphrase-stdin",
        ),
        input=RECOVERY_PASSPHRASE + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    env.backupctl(
        "keys",
        "escrow",
        "--recovery-public-key",
        str(env.root / "rk.pub"),
        "--out",
        str(env.root / "escrow.bin"),
    )
    return env


def _pipeline(env, target, *extra: str, config: str | None = None) -> subprocess.CompletedProcess:
    """backupctl disaster-password ... | restic --password-file /dev/stdin restore latest."""
    read_end, write_end = os.pipe()
    os.write(write_end, RECOVERY_PASSPHRASE.encode() + b"\n")
    os.close(write_end)
    command = (
        f"{BACKUPCTL} --config {config or env.config_path} disaster-password shop "
        f"--escrow {env.root / 'escrow.bin'} --recovery-private-key {env.root / 'rk.pem'} "
        f"--reason 'host lost, INC-12' --passphrase-fd {read_end} {' '.join(extra)} "
        f"| {env.restic} -r {env.root / 'far' / 'shop'} --no-cache --password-file /dev/stdin "
        f"restore latest --target {target}"
    )
    try:
        return subprocess.run(
            ("bash", "-o", "pipefail", "-c", command),
            capture_output=True,
            text=True,
            pass_fds=(read_end,),
            timeout=300,
            check=False,
        )
    finally:
        os.close(read_end)


def _same_files(env, target) -> None:
    originals = [p for p in (env.root / "data").rglob("*.bin")]
    assert originals
    for original in originals:
        restored = target / str(original).lstrip("/")
        assert (
            hashlib.sha256(restored.read_bytes()).digest()
            == hashlib.sha256(original.read_bytes()).digest()
        )


def test_disaster_password_feeds_plain_restic_and_is_recorded(disaster_env, tmp_path):
    result = _pipeline(disaster_env, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    _same_files(disaster_env, tmp_path / "out")
    records = list(log.records(state.db_path(disaster_env.config().state_dir)))
    assert records[-1].action == "recovery.disaster_key"
    assert records[-1].subjects == {"source": "shop"}
    assert disaster_env.password() not in result.stdout + result.stderr


def test_with_backupctl_state_gone_the_use_goes_to_the_record_file(disaster_env, tmp_path):
    broken = tmp_path / "gone.toml"  # no config, no keystore, no state: only escrow and key
    refused = _pipeline(disaster_env, tmp_path / "none", config=str(broken))
    assert refused.returncode != 0 and "give --record FILE" in refused.stderr
    assert not (tmp_path / "none").exists()
    record = tmp_path / "disaster.jsonl"
    result = _pipeline(disaster_env, tmp_path / "out", f"--record {record}", config=str(broken))
    assert result.returncode == 0, result.stderr
    _same_files(disaster_env, tmp_path / "out")
    assert '"action": "recovery.disaster_key"' in record.read_text()
    assert oct(record.stat().st_mode & 0o777) == "0o600"


def test_the_password_is_never_written_to_a_terminal(disaster_env):
    if not shutil.which("script"):
        pytest.skip("needs script(1) for a pseudo-terminal")
    command = (
        f"{BACKUPCTL} disaster-password shop --escrow {disaster_env.root / 'escrow.bin'} "
        f"--recovery-private-key {disaster_env.root / 'rk.pem'} --reason x"
    )
    result = subprocess.run(
        ("script", "-qec", command, "/dev/null"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert "refusing to write a password to a terminal" in result.stdout
