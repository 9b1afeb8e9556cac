"""A backup whose snapshot holds no files is a warning (exit 6), not "ok": everything excluded, or a
source path that is a symlink restic does not follow. Real restic, two local locations."""

from __future__ import annotations

import json
import pathlib

import pytest

from backupctl.keys import master_secret
from tests.fixtures.cli import run_backupctl as _backupctl


def _setup(tmp_path: pathlib.Path, source_path: pathlib.Path) -> pathlib.Path:
    master_secret.generate_master_key_file(tmp_path / "master.key")
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[backupctl]\nstate_dir = "{tmp_path}/state"\nkeystore = "{tmp_path}/ks.bin"\n'
        f'master_key_file = "{tmp_path}/master.key"\n'
        f'[locations.a]\nkind = "local"\npath = "{tmp_path}/a"\ncountry = "NL"\noffsite = false\n'
        f'[locations.b]\nkind = "local"\npath = "{tmp_path}/b"\ncountry = "BE"\noffsite = true\n'
        f'[sources.books]\npaths = ["{source_path}"]\nexcludes = ["*.tmp"]\ntenant = "t"\n'
        f'locations = ["a", "b"]\n'
    )
    return config


def _everything_excluded(tmp_path) -> pathlib.Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "scratch.tmp").write_text("excluded\n")
    return data


def _symlink_to_data(tmp_path) -> pathlib.Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "invoice.txt").write_text("invoice\n")
    link = tmp_path / "link"
    link.symlink_to(data)
    return link


@pytest.mark.parametrize("make_source", [_everything_excluded, _symlink_to_data])
def test_a_snapshot_without_files_exits_6_with_a_warning(tmp_path, make_source):
    config = _setup(tmp_path, make_source(tmp_path))
    assert _backupctl(config, "init").returncode == 0
    result = _backupctl(config, "backup", "--json")
    assert result.returncode == 6, result.stdout + result.stderr
    (source,) = json.loads(result.stdout)["sources"]
    assert source["empty_snapshot"] and source["snapshot_id"]
    assert any("holds no files" in warning for warning in source["warnings"])
    assert all(entry["ok"] for entry in source["locations"])  # still copied everywhere
    newest = json.loads(_backupctl(config, "history", "--json").stdout)["runs"][0]
    assert newest["exit_code"] == 6


def test_a_snapshot_with_files_is_not_empty(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "kept.txt").write_text("kept\n")
    config = _setup(tmp_path, data)
    assert _backupctl(config, "init").returncode == 0
    result = _backupctl(config, "backup", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not json.loads(result.stdout)["sources"][0]["empty_snapshot"]
