"""The backup side's CLI command modules call actions only: never the keystore, the state
database or restic directly (docs/architecture.md, "Rules the code keeps")."""

from __future__ import annotations

import ast
import pathlib

import pytest

import backupctl

CLI = pathlib.Path(backupctl.__file__).parent / "cli"
FORBIDDEN = (
    "backupctl.keyaccess",
    "backupctl.keystore",
    "backupctl.state",
    "backupctl.restic.operations",
    "backupctl.reach",
    "targets",
)


def imported(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize(
    "module",
    [
        "backup_commands",
        "init_commands",
        "status_commands",
        "verify_commands",
        "rotate_commands",
        "tenant_commands",
        "report",
        "schedule_commands",
        "check_commands",
        "metrics_commands",
    ],
)
def test_command_module_imports_no_store_state_or_restic_runner(module):
    names = imported(CLI / f"{module}.py")
    assert not [
        name
        for name in names
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    ]
