"""docs/configuration.md documents every key the validator knows, so docs change with behaviour."""

import pathlib

from backupctl import config_operations, config_schema

REFERENCE = pathlib.Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_every_config_key_is_documented():
    text = REFERENCE.read_text()
    tables = (
        config_schema.GLOBAL_KEYS
        + config_schema.LOCATION_COMMON_KEYS
        + config_schema.SOURCE_KEYS
        + config_schema.POLICY_KEYS
        + sum(config_schema.LOCATION_KIND_KEYS.values(), ())
        + config_operations.OPERATIONS_KEYS
    )
    missing = [key.name for key in tables if f"| `{key.name}` |" not in text]
    assert not missing, f"docs/configuration.md lacks: {missing}"


def test_every_documented_key_carries_the_schema_help_text():
    lines = REFERENCE.read_text().splitlines()
    tables = (
        config_schema.GLOBAL_KEYS
        + config_schema.LOCATION_COMMON_KEYS
        + config_schema.SOURCE_KEYS
        + config_schema.POLICY_KEYS
        + sum(config_schema.LOCATION_KIND_KEYS.values(), ())
        + config_operations.OPERATIONS_KEYS
    )
    stale = [
        key.name
        for key in tables
        if not any(
            line.startswith(f"| `{key.name}` |") and f"| {key.help} |" in line for line in lines
        )
    ]
    assert not stale, f"docs/configuration.md rows differ from config_schema help: {stale}"
