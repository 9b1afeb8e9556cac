"""The role each command needs, declared where the command is (statement 7.1, 7.3).

``@requires(Role.OPERATOR, action="backup.run")`` goes directly above the function of a click
command: before the command body runs, the acting identity's roles are checked (a refusal names
the missing role, exits 4 and is written to the audit log). With ``record=True`` the command is
also recorded around its body (``started`` first, fail closed; then ``ok`` or ``failed``), with
``subjects`` naming which parameters are ids worth keeping (never free text or file names).
``custody=True`` mirrors the repair jobs' new custody events into the audit log afterwards.

``tests/unit/cli/test_command_roles.py`` checks that every registered command declares its
roles; docs/access.md has the table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from backupctl.actions import authorize, command_audit
from backupctl.cli import context
from policies.access import Role

__all__ = ["Role", "checked_by_action", "no_role", "requires"]

Function = TypeVar("Function", bound=Callable[..., Any])


def requires(
    *roles: Role,
    action: str,
    per_source: bool = False,
    record: bool = False,
    subjects: Mapping[str, str] | None = None,
    custody: bool = False,
) -> Callable[[Function], Function]:
    """Given the roles of which one may run a command and its audit action, return a decorator
    that checks them before the command body runs (and records it when ``record``)."""

    def decorate(function: Function) -> Function:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            click_context = click.get_current_context()
            app = click_context.find_object(context.AppContext)
            config = app.config_if_present()
            state_db = app.state_db()
            actor = authorize.check(
                config,
                state_db=state_db,
                command=click_context.command_path.removeprefix("backupctl "),
                action=action,
                roles=roles,
                sources=kwargs.get("sources") if per_source else None,
            )
            if not (record or custody):
                return function(*args, **kwargs)
            return command_audit.run(
                state_db,
                action=action,
                actor=actor.name,
                subjects=_subjects(subjects or {}, kwargs),
                record=record,
                custody=custody,
                body=lambda: function(*args, **kwargs),
            )

        wrapper.required_roles = roles  # type: ignore[attr-defined]
        wrapper.audit_action = action  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def checked_by_action(*roles: Role, action: str) -> Callable[[Function], Function]:
    """Mark a command whose action checks these roles itself, for the tenant of the one request
    or source it touches, before it touches anything, and records a refusal with that request's
    ids (the restore commands: docs/restore.md). The roles are declared here for the docs and
    the test that every command has some."""

    def decorate(function: Function) -> Function:
        function.required_roles = roles  # type: ignore[attr-defined]
        function.audit_action = action  # type: ignore[attr-defined]
        function.checked_by_action = True  # type: ignore[attr-defined]
        return function

    return decorate


def no_role(reason: str) -> Callable[[Function], Function]:
    """Mark a command that touches nothing of a backupctl host (so needs no role), with why."""

    def decorate(function: Function) -> Function:
        function.required_roles = ()  # type: ignore[attr-defined]
        function.no_role_reason = reason  # type: ignore[attr-defined]
        return function

    return decorate


def _subjects(names: Mapping[str, str], kwargs: Mapping[str, Any]) -> dict[str, str]:
    """Given subject names mapped to parameter names, return the ids the command was given."""
    found = {}
    for subject, parameter in names.items():
        value = kwargs.get(parameter)
        if isinstance(value, tuple | list):
            value = ",".join(str(item) for item in value)
        if value not in (None, ""):
            found[subject] = str(value)
    return found
