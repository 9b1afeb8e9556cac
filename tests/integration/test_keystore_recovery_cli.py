"""The documented recovery procedure (docs/keystore.md), run step by step with the installed CLI."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys

import pytest

from backupctl.keys.master_secret import load_master_secret
from backupctl.keys.secret import Secret
from backupctl.keys.store import Keystore
from tests.fixtures.requirements import skip_or_fail

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
PASSPHRASE = "correct horse battery staple offline"
ENTRIES = {
    "repo/web": "web-restic-password-VALUE",
    "location/offsite/access_key_id": "AKIA-VALUE-1",
    "location/offsite/secret_access_key": "s3-secret-VALUE-2",
}


@pytest.fixture(autouse=True)
def _installed_backupctl() -> None:
    if not BACKUPCTL.exists():
        skip_or_fail("the installed backupctl is missing (make setup-test)")


NAMES = ("backupctl.toml", "keystore.bin", "master.key", "recovery.pub", "escrow.bin", "offline")


def _paths(root: pathlib.Path) -> dict[str, pathlib.Path]:
    return {name: root / name for name in NAMES}


def _write_config(paths) -> None:
    root = paths["keystore.bin"].parent
    paths["backupctl.toml"].write_text(
        f'[backupctl]\nstate_dir = "{root / "state"}"\nkeystore = "{paths["keystore.bin"]}"\n'
        f'master_key_file = "{paths["master.key"]}"\n'
    )


def _runner(paths, outputs: list[str]):
    def run(
        *argv: str, stdin: str = "", expect: int = 0, config: bool = True, json_out: bool = False
    ):
        """Run backupctl; return its parsed stdout (json_out) or its stdout and stderr together."""
        config_path = paths["backupctl.toml"] if config else paths["offline"] / "no-config.toml"
        env = dict(os.environ, BACKUPCTL_CONFIG=str(config_path))
        completed = subprocess.run(
            (str(BACKUPCTL), *argv),
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        outputs.append(completed.stdout + completed.stderr)
        assert completed.returncode == expect, (argv, completed.stdout, completed.stderr)
        return json.loads(completed.stdout) if json_out else completed.stdout + completed.stderr

    return run


@pytest.fixture(scope="module")
def prepared_host(tmp_path_factory):
    """Steps 1-3 of the procedure, once: master key, keystore with ENTRIES (set through the API,
    as `backupctl init` would), the offline recovery key pair (made without any config), escrow."""
    paths = _paths(tmp_path_factory.mktemp("host"))
    paths["offline"].mkdir()
    _write_config(paths)
    outputs: list[str] = []
    run = _runner(paths, outputs)
    run("keys", "master-keygen")
    run("keys", "init")
    store = Keystore.open(paths["keystore.bin"], _master(paths))
    for name, value in ENTRIES.items():
        store.set(name, Secret(value))
    store.save()
    run(
        "keys",
        "recovery-keygen",
        "--out-private",
        str(paths["offline"] / "recovery.pem"),
        "--out-public",
        str(paths["recovery.pub"]),
        "--passphrase-stdin",
        stdin=PASSPHRASE + "\n",
        config=False,
    )
    result = run(
        "keys",
        "escrow",
        "--recovery-public-key",
        str(paths["recovery.pub"]),
        "--out",
        str(paths["escrow.bin"]),
        "--json",
        json_out=True,
    )
    assert result["entries"] == 3
    _assert_no_secret(outputs, paths)
    return paths["keystore.bin"].parent


@pytest.fixture
def host(prepared_host, tmp_path):
    """A private copy of the prepared host for one test; returns (run, paths)."""
    root = tmp_path / "host"
    shutil.copytree(prepared_host, root)  # copy2 keeps the 0600 modes
    paths = _paths(root)
    _write_config(paths)
    outputs: list[str] = []
    yield _runner(paths, outputs), paths
    _assert_no_secret(outputs, paths)


def _assert_no_secret(outputs: list[str], paths) -> None:
    everything = "\n".join(outputs)
    for secret in [*ENTRIES.values(), PASSPHRASE, _master_text(paths)]:
        assert secret not in everything


def _master(paths) -> Secret:
    return load_master_secret(key_file=paths["master.key"], key_command=None)


def _master_text(paths) -> str:
    return paths["master.key"].read_text().strip() if paths["master.key"].exists() else "\0"


def _plain(paths) -> dict[str, str]:
    store = Keystore.open(paths["keystore.bin"], _master(paths))
    return {name: store.get(name).reveal() for name in store.names()}


def test_recovery_after_losing_keystore_and_master_key(host):
    run, paths = host
    old_master = _master_text(paths)
    paths["keystore.bin"].unlink()
    paths["master.key"].unlink()
    assert "master-keygen" in run("keys", "check", expect=3)
    run("keys", "master-keygen")
    assert _master_text(paths) != old_master
    result = run(
        "keys",
        "recover",
        "--escrow",
        str(paths["escrow.bin"]),
        "--recovery-private-key",
        str(paths["offline"] / "recovery.pem"),
        "--passphrase-stdin",
        "--json",
        stdin=PASSPHRASE + "\n",
        json_out=True,
    )
    assert result == {"keystore": str(paths["keystore.bin"]), "entries": 3, "kept_previous": None}
    assert run("keys", "check", "--json", json_out=True)["entries"] == 3
    assert run("keys", "list", "--json", json_out=True)["names"] == sorted(ENTRIES)
    assert _plain(paths) == ENTRIES


def test_damaged_keystore_is_refused_then_moved_aside_with_force(host):
    run, paths = host
    damaged = paths["keystore.bin"].read_bytes()[:-1]
    paths["keystore.bin"].write_bytes(damaged)
    output = run("keys", "check", expect=3)
    assert "is damaged" in output and "master secret is wrong" not in output
    recover = (
        "keys",
        "recover",
        "--escrow",
        str(paths["escrow.bin"]),
        "--recovery-private-key",
        str(paths["offline"] / "recovery.pem"),
        "--passphrase-stdin",
    )
    assert "--force" in run(*recover, stdin=PASSPHRASE + "\n", expect=4)
    assert paths["keystore.bin"].read_bytes() == damaged
    output = run(*recover, "--force", stdin=PASSPHRASE + "\n")
    kept = list(paths["keystore.bin"].parent.glob("keystore.bin.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged and str(kept[0]) in output
    assert _plain(paths) == ENTRIES


def test_wrong_passphrase_or_recovery_key_fails_clearly(host):
    run, paths = host
    paths["keystore.bin"].unlink()
    recover = ("keys", "recover", "--escrow", str(paths["escrow.bin"]), "--passphrase-stdin")
    output = run(
        *recover,
        "--recovery-private-key",
        str(paths["offline"] / "recovery.pem"),
        stdin="wrong passphrase\n",
        expect=3,
    )
    assert "wrong passphrase" in output
    run(
        "keys",
        "recovery-keygen",
        "--out-private",
        str(paths["offline"] / "other.pem"),
        "--out-public",
        str(paths["offline"] / "other.pub"),
        "--no-passphrase",
    )
    output = run(*recover, "--recovery-private-key", str(paths["offline"] / "other.pem"), expect=3)
    assert "wrong recovery private key" in output
    assert not paths["keystore.bin"].exists()


def _error_line(output: str) -> str:
    """Return the one error line; fail when the output is not exactly one line."""
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backupctl: error: "), output
    return lines[0]


@pytest.mark.parametrize("where", ["header length", "header", "ciphertext", "tag", "checksum"])
def test_keys_check_tells_a_damaged_file(host, where):
    run, paths = host
    data = paths["keystore.bin"].read_bytes()
    position = {"header length": 10, "header": 20, "ciphertext": -60, "tag": -40, "checksum": -1}
    index = position[where] % len(data)
    paths["keystore.bin"].write_bytes(
        data[:index] + bytes([data[index] ^ 0x04]) + data[index + 1 :]
    )
    line = _error_line(run("keys", "check", expect=3))
    assert "is damaged" in line and "master secret is wrong" not in line


def test_keys_check_tells_a_wrong_master_secret_on_an_intact_file(host):
    run, paths = host
    before = paths["keystore.bin"].read_bytes()
    paths["master.key"].unlink()
    run("keys", "master-keygen")  # another random master key: the keystore is fine
    line = _error_line(run("keys", "check", expect=3))
    assert "is intact, but the master secret is wrong" in line and "damaged" not in line
    assert "keys recover" not in line  # the keystore needs no recovery
    assert paths["keystore.bin"].read_bytes() == before


def test_keys_check_reports_format_and_kdf_of_a_random_master_key(host):
    run, _ = host
    result = run("keys", "check", "--json", json_out=True)
    assert result["format"] == 2 and result["kdf"] == "hkdf-sha256" and result["entries"] == 3


def test_keys_init_on_an_existing_keystore_is_refused_with_exit_4(host):
    run, paths = host
    before = paths["keystore.bin"].read_bytes()
    assert "already exists" in _error_line(run("keys", "init", expect=4))
    assert paths["keystore.bin"].read_bytes() == before


def test_missing_keystore_points_to_keys_recover_and_never_to_init(host):
    run, paths = host
    paths["keystore.bin"].unlink()
    line = _error_line(run("keys", "check", expect=3))
    assert "does not exist" in line and "backupctl keys recover" in line
    assert line.index("backupctl keys recover") < line.index("backupctl keys init")
    assert "backupctl init" not in line


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_escrow_with_force_refuses_a_non_regular_destination(host, kind):
    run, paths = host
    out = paths["offline"] / "escrow-out"
    target = paths["offline"] / "target"
    if kind == "fifo":
        os.mkfifo(out, 0o600)
    else:
        target.write_text("target content")
        out.symlink_to(target)
    escrow = ("keys", "escrow", "--recovery-public-key", str(paths["recovery.pub"]))
    line = _error_line(run(*escrow, "--out", str(out), "--force", expect=4))
    assert str(out) in line and "refusing to replace it" in line
    assert out.is_symlink() if kind == "symlink" else stat.S_ISFIFO(os.lstat(out).st_mode)
    if kind == "symlink":
        assert target.read_text() == "target content"


@pytest.mark.parametrize("kind", ["symlink to /dev/zero", "fifo"])
def test_keys_check_refuses_a_keystore_that_is_not_a_regular_file(host, kind):
    """Both used to be read without bound: /dev/zero until killed for memory, a FIFO forever.
    The runner's 60 s timeout fails the test if the command does not return."""
    run, paths = host
    paths["keystore.bin"].unlink()
    if kind == "fifo":
        os.mkfifo(paths["keystore.bin"], 0o600)
    else:
        paths["keystore.bin"].symlink_to("/dev/zero")
    line = _error_line(run("keys", "check", expect=4))
    assert "refusing to read it" in line


def test_recovery_keygen_refuses_a_weak_passphrase(host):
    run, paths = host
    private, public = paths["offline"] / "weak.pem", paths["offline"] / "weak.pub"
    keygen = ("keys", "recovery-keygen", "--out-private", str(private), "--out-public", str(public))
    line = _error_line(
        run(*keygen, "--passphrase-stdin", stdin="hunter2\n", expect=4, config=False)
    )
    assert "at least 12 characters" in line and "hunter2" not in line
    assert not private.exists() and not public.exists()
