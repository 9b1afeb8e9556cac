"""Every registered command declares the roles that may run it (backupctl/cli/roles.py), so a
new command cannot forget its role check; and docs/access.md lists each one."""

from __future__ import annotations

import pathlib

import click

from backupctl.cli import main

ACCESS_DOC = pathlib.Path(__file__).parents[3] / "docs" / "access.md"


def every_command() -> list[tuple[str, click.Command]]:
    found = []
    context = click.Context(main.cli)
    for name in main.cli.list_commands(context):
        command = main.cli.get_command(context, name)
        found += list(_walk(name, command))
    return found


def _walk(path: str, command: click.Command):
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(f"{path} {name}", sub)
    else:
        yield path, command


def test_every_command_declares_its_roles():
    undeclared = [
        path for path, command in every_command() if not hasattr(command.callback, "required_roles")
    ]
    assert undeclared == []


def test_a_command_without_a_role_says_why():
    for path, command in every_command():
        if command.callback.required_roles == ():
            assert command.callback.no_role_reason, path


def test_docs_list_the_role_of_every_command():
    text = ACCESS_DOC.read_text(encoding="utf-8")
    missing = [path for path, _ in every_command() if f"`{path}`" not in text]
    assert missing == []
