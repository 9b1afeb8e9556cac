"""The [operations] table: defaults without it, and every mistake named with its key path."""

from __future__ import annotations

import pathlib

import pytest

from backupctl import config
from backupctl.config_operations import Operations, parse_operations
from backupctl.errors import ConfigError


def test_without_the_table_the_defaults_apply():
    assert parse_operations(None, []) == Operations()
    assert Operations().unit_dir == pathlib.Path("/etc/systemd/system")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"ping_failure": "ftp://x/y"}, "operations.ping_failure: must be an http:// or https://"),
        ({"ping_start": "https://"}, "operations.ping_start: must be an http:// or https://"),
        ({"ping_start": "https://h/a b"}, "must not contain spaces or control characters"),
        ({"check_read_days": 0}, "operations.check_read_days: must be 1 to 366 days"),
        ({"check_schedule": "fortnightly"}, "operations.check_schedule: must be"),
        ({"unit_dir": "relative/dir"}, "operations.unit_dir: must be an absolute path"),
        ({"ping_timeout_seconds": 600}, "must be 1 to 120 seconds"),
        ({"drill_files": 0}, "operations.drill_files: must be 1 to 1000 files"),
        ({"colour": "blue"}, "operations.colour: unknown key"),
    ],
)
def test_each_mistake_names_its_key(table, expected):
    errors: list[str] = []
    parse_operations(table, errors)
    assert any(expected in error for error in errors), errors


def test_the_table_reaches_the_config_and_its_ping_urls_are_not_in_its_repr(tmp_path):
    path = tmp_path / "backupctl.toml"
    path.write_text(
        '[operations]\ncheck_schedule = "36h"\nping_success = "https://hc.example/secret-uuid"\n'
    )
    loaded = config.load(path)
    assert loaded.operations.check_hours == 36.0
    assert loaded.operations.ping_success == "https://hc.example/secret-uuid"
    assert "secret-uuid" not in repr(loaded.operations)


def test_a_mistake_in_the_table_fails_the_whole_config(tmp_path):
    path = tmp_path / "backupctl.toml"
    path.write_text('[operations]\nmetrics_file = "backupctl.prom"\n')
    with pytest.raises(ConfigError, match="operations.metrics_file: must be an absolute path"):
        config.load(path)
