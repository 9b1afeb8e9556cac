"""`init` gives a repository its fast key (cheap scrypt), the copy takes it to every location,
restic (0.14 and 0.18) opens the repository with it through `--key-hint`, every restic backupctl
starts is given that hint, and a location that lost the key still opens (restic tries every key)
and gets it back from the next backup. Speed is shown without timing: the key's parameters."""

from __future__ import annotations

import json
import pathlib
import sqlite3
import subprocess

from backupctl.keys import master_secret
from backupctl.keys import store as keystore
from backupctl.restic import keyfile
from tests.fixtures.cli import run_backupctl as _backupctl


def _setup(tmp_path: pathlib.Path, restic: str) -> pathlib.Path:
    master = tmp_path / "master.key"
    master_secret.generate_master_key_file(master)
    for name in ("disk-a", "disk-b", "data"):
        (tmp_path / name).mkdir()
    (tmp_path / "data" / "invoice.txt").write_text("invoice 2026-001\n")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[backupctl]\nstate_dir = "{tmp_path}/state"\nkeystore = "{tmp_path}/ks.bin"\n'
        f'master_key_file = "{master}"\nrestic = "{restic}"\n'
        f'[locations.a]\nkind = "local"\npath = "{tmp_path}/disk-a"\ncountry = "NL"\n'
        f"offsite = false\n"
        f'[locations.b]\nkind = "local"\npath = "{tmp_path}/disk-b"\ncountry = "BE"\n'
        f"offsite = true\n"
        f'[sources.books]\npaths = ["{tmp_path}/data"]\ntenant = "t"\nlocations = ["a", "b"]\n'
    )
    return config


def _password_file(tmp_path: pathlib.Path) -> pathlib.Path:
    secret = keystore.Keystore.open(
        tmp_path / "ks.bin",
        master_secret.load_master_secret(key_file=tmp_path / "master.key", key_command=None),
    ).get("repo/books")
    path = tmp_path / "password"
    path.write_text(secret.reveal())
    path.chmod(0o600)
    return path


def _restic(restic: str, repository: pathlib.Path, password: pathlib.Path, *args: str):
    return subprocess.run(
        (restic, "--repo", str(repository), "--password-file", str(password), *args),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fast_key_made_at_init_copied_and_used_by_every_restic(tmp_path, restic_binary):
    config = _setup(tmp_path, restic_binary)
    init = _backupctl(config, "init", "--json")
    assert init.returncode == 0, init.stdout + init.stderr
    with sqlite3.connect(tmp_path / "state" / "state.db") as connection:
        (key_id,) = connection.execute(
            "SELECT key_id FROM fast_keys WHERE source = 'books'"
        ).fetchone()
    fast = {name: tmp_path / name / "books" / "keys" / key_id for name in ("disk-a", "disk-b")}
    assert fast["disk-a"].read_bytes() == fast["disk-b"].read_bytes()  # copied like any file
    assert keyfile.params_of(fast["disk-a"].read_bytes()) == keyfile.CHEAP  # the speed
    password = _password_file(tmp_path)

    for name in ("disk-a", "disk-b"):
        listed = _restic(
            restic_binary,
            tmp_path / name / "books",
            password,
            *("--key-hint", key_id, "key", "list", "--json"),
        )
        assert listed.returncode == 0, listed.stderr
        keys = json.loads(listed.stdout)  # restic's calibrated key and the fast key
        assert len(keys) == 2
        (current,) = [key for key in keys if key["current"]]  # the key restic opened
        assert key_id.startswith(current["id"]) and current["userName"] == "backupctl"
        plain = _restic(restic_binary, tmp_path / name / "books", password, "snapshots")
        assert plain.returncode == 0, plain.stderr  # plain restic: it tries every key

    for command in (("backup", "--json"), ("status",), ("check",)):
        run = _backupctl(config, "-vv", *command)
        assert run.returncode == 0, run.stdout + run.stderr
        started = [line for line in run.stderr.splitlines() if "running " in line]
        assert started and all(f"--key-hint {key_id}" in line for line in started), started
    assert sorted(p.name for p in fast["disk-a"].parent.iterdir()).count(key_id) == 1
    assert len(list(fast["disk-a"].parent.iterdir())) == 2


def test_a_location_without_the_key_opens_and_gets_it_back(tmp_path, restic_binary):
    config = _setup(tmp_path, restic_binary)
    assert _backupctl(config, "init").returncode == 0
    with sqlite3.connect(tmp_path / "state" / "state.db") as connection:
        (key_id,) = connection.execute("SELECT key_id FROM fast_keys").fetchone()
    lost = tmp_path / "disk-a" / "books" / "keys" / key_id
    kept = lost.read_bytes()
    lost.unlink()  # a location restored from a copy older than the key
    password = _password_file(tmp_path)

    hinted = _restic(
        restic_binary, lost.parents[1], password, "--key-hint", key_id, "snapshots", "--json"
    )
    assert hinted.returncode == 0, hinted.stderr  # the hinted key missing: restic tries all
    assert json.loads(hinted.stdout) in ([], None)

    backup = _backupctl(config, "backup", "--json")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    assert lost.read_bytes() == kept  # caught up from b, not made again
    with sqlite3.connect(tmp_path / "state" / "state.db") as connection:
        assert connection.execute("SELECT key_id FROM fast_keys").fetchall() == [(key_id,)]
