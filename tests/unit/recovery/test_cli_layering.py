"""The recovery command modules call actions only: no store, no recovery module directly."""

from __future__ import annotations

import ast
import pathlib

import pytest

CLI = pathlib.Path(__file__).resolve().parents[3] / "backupctl" / "cli"
ALLOWED = (
    "backupctl.actions",
    "backupctl.cli",
    "click",
    "tqdm",
    "json",
    "logging",
    "pathlib",
    "sys",
    "time",
)


@pytest.mark.parametrize(
    "name", ["job_commands.py", "image_commands.py", "media_commands.py", "tape_commands.py"]
)
def test_command_module_imports_only_actions_click_and_cli_helpers(name):
    tree = ast.parse((CLI / name).read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    outside = [
        module for module in imported if module != "__future__" and not module.startswith(ALLOWED)
    ]
    assert outside == []
