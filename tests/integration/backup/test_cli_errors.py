"""Bad input through the installed command: one clear line naming what and where, no traceback."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from backupctl.keys import master_secret

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        (str(BACKUPCTL), *args), capture_output=True, text=True, timeout=120, check=False
    )


def test_invalid_toml_names_the_file_and_line(tmp_path):
    config = tmp_path / "broken.toml"
    config.write_text("[backupctl]\nstate_dir = \n")
    result = _run("--config", str(config), "config", "validate")
    assert result.returncode == 2
    assert str(config) in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_config_problem_is_listed_with_its_key_path(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(
        '[locations.usa]\nkind = "local"\npath = "/srv/a"\ncountry = "US"\noffsite = true\n'
        '[sources.web]\npaths = ["relative/path"]\ntenant = "t"\nlocations = ["usa"]\ncolour = 1\n'
    )
    result = _run("--config", str(config), "config", "validate")
    assert result.returncode == 2
    for expected in (
        "locations.usa.country: US is outside the EEA",
        "sources.web.colour: unknown key",
        "sources.web.paths: 'relative/path' must be an absolute path",
        "sources.web.locations: has 1 location(s)",
    ):
        assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_a_usage_error(tmp_path):
    result = _run("--config", str(tmp_path / "nope.toml"), "status")
    assert result.returncode == 2
    assert "config file not found" in result.stderr and "Traceback" not in result.stderr


def test_backup_without_a_keystore_says_what_to_run(tmp_path):
    (tmp_path / "master.key").write_text("x" * 44)
    (tmp_path / "master.key").chmod(0o600)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[backupctl]\nstate_dir = "{tmp_path}/state"\nkeystore = "{tmp_path}/ks.bin"\n'
        f'master_key_file = "{tmp_path}/master.key"\n'
        f'[locations.a]\nkind = "local"\npath = "{tmp_path}/a"\ncountry = "NL"\noffsite = false\n'
        f'[locations.b]\nkind = "local"\npath = "{tmp_path}/b"\ncountry = "DE"\noffsite = true\n'
        f'[sources.s]\npaths = ["{tmp_path}"]\ntenant = "t"\nlocations = ["a", "b"]\n'
    )
    result = _run("--config", str(config), "backup")
    assert result.returncode == 3
    assert "ks.bin" in result.stderr and "init" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_reports_a_source_added_after_init_instead_of_failing(tmp_path):
    master = tmp_path / "master.key"
    master_secret.generate_master_key_file(master)
    for name in ("a", "b", "data"):
        (tmp_path / name).mkdir()
    (tmp_path / "data" / "ledger.txt").write_text("a file, so the snapshot is not empty\n")
    head = (
        f'[backupctl]\nstate_dir = "{tmp_path}/state"\nkeystore = "{tmp_path}/ks.bin"\n'
        f'master_key_file = "{master}"\n'
        f'[locations.a]\nkind = "local"\npath = "{tmp_path}/a"\ncountry = "NL"\noffsite = false\n'
        f'[locations.b]\nkind = "local"\npath = "{tmp_path}/b"\ncountry = "DE"\noffsite = true\n'
    )
    source = '[sources.{0}]\npaths = ["{1}/data"]\ntenant = "t"\nlocations = ["a", "b"]\n'
    config = tmp_path / "c.toml"
    config.write_text(head + source.format("old", tmp_path))
    assert _run("--config", str(config), "init").returncode == 0
    assert _run("--config", str(config), "backup").returncode == 0
    config.write_text(head + source.format("old", tmp_path) + source.format("new", tmp_path))
    result = _run("--config", str(config), "status", "--json")
    assert result.returncode == 1, result.stderr
    report = {entry["source"]: entry for entry in json.loads(result.stdout)["sources"]}
    assert report["old"]["warnings"] == []
    assert any("run `backupctl init`" in w for w in report["new"]["warnings"]), report["new"]
    assert "Traceback" not in result.stderr
