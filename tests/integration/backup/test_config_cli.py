"""Config mistakes that used to end in a traceback are one line naming the key, exit code 2,
both at `config validate` and at a command that loads the config (`status`)."""

from __future__ import annotations

import pathlib

import pytest

from backupctl.keys import master_secret
from tests.fixtures.cli import run_backupctl


def _config(
    root: pathlib.Path,
    *,
    state_dir: str = "",
    schedule: str = "daily",
    tenant: str = "t",
    second_path: str = "",
) -> pathlib.Path:
    master = root / "master.key"
    if not master.exists():
        master_secret.generate_master_key_file(master)
    for name in ("a", "b", "data"):
        (root / name).mkdir(exist_ok=True)
    (root / "data" / "file.txt").write_text("something to back up\n")  # not an empty snapshot
    config = root / "c.toml"
    config.write_text(
        f'[backupctl]\nstate_dir = "{state_dir or root / "state"}"\n'
        f'keystore = "{root}/ks.bin"\nmaster_key_file = "{master}"\n'
        f'[locations.a]\nkind = "local"\npath = "{root}/a"\ncountry = "NL"\noffsite = false\n'
        f'[locations.b]\nkind = "local"\npath = "{second_path or root / "b"}"\ncountry = "DE"\n'
        f"offsite = true\n"
        f'[sources.s]\npaths = ["{root}/data"]\ntenant = "{tenant}"\nlocations = ["a", "b"]\n'
        f'schedule = "{schedule}"\n'
    )
    return config


def _state_file(root: pathlib.Path) -> dict:
    (root / "state-file").write_text("not a directory\n")
    return {"state_dir": str(root / "state-file")}


CASES = {
    "state_dir is a file": (_state_file, "backupctl.state_dir: "),
    "schedule overflows": (
        lambda root: {"schedule": "99999999999999999999999h"},
        "sources.s.schedule: must be",
    ),
    "tenant injects a tag": (
        lambda root: {"tenant": "t,source:other"},
        "sources.s.tenant: must be 1-64 letters",
    ),
    "second location is the first": (
        lambda root: {"second_path": f"{root}/b/../a"},
        "locations.b: stores in the same place as locations.a",
    ),
}


@pytest.mark.parametrize("command", [("config", "validate"), ("status",), ("backup",)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_config_mistake_is_one_line_with_exit_code_2(tmp_path, case, command):
    make, expected = CASES[case]
    result = run_backupctl(_config(tmp_path, **make(tmp_path)), *command)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_status_after_a_backup_with_the_longest_schedule_works(tmp_path):
    config = _config(tmp_path, schedule="8784h")
    assert run_backupctl(config, "init").returncode == 0
    assert run_backupctl(config, "backup").returncode == 0
    result = run_backupctl(config, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
