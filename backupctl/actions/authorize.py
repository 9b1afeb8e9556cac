"""Check the acting identity's role before a command touches anything, and record a refusal.

Every CLI command declares the roles of which one may run it (``backupctl/cli/roles.py``) and
calls ``check`` first; a refusal is written to the audit log (outcome ``refused``) and raised as
AccessDenied (exit 4), naming the missing role. Commands over sources are checked once per
tenant of the sources they touch, so a grant limited to some tenants covers only those.
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Iterable

from backupctl import access, identity
from backupctl.audit import log
from backupctl.config import Config
from policies.access import AccessPolicy, Role

logger = logging.getLogger(__name__)

__all__ = ["AccessDenied", "Role", "check", "tenants_of"]

AccessDenied = access.AccessDenied


def tenants_of(config: Config | None, source_names: Iterable[str] | None) -> tuple[str | None, ...]:
    """Given the config and the source names a command was given (None: it takes no sources;
    empty: all of them), return the tenants to check (None: the command touches no tenant)."""
    if config is None or source_names is None:
        return (None,)
    names = tuple(source_names) or tuple(config.sources)
    tenants = sorted({config.sources[name].tenant for name in names if name in config.sources})
    return tuple(tenants) or (None,)


def check(
    config: Config | None,
    *,
    state_db: pathlib.Path,
    command: str,
    action: str,
    roles: tuple[Role, ...],
    sources: Iterable[str] | None = None,
    actor: identity.Actor | None = None,
) -> identity.Actor:
    """Given the config (None when there is no config file: single-operator), the command and the
    roles of which it needs one, return the acting identity; raise AccessDenied (recorded in the
    audit log as ``refused``) when the actor lacks every one of them for a tenant touched."""
    policy = config.access if config is not None else AccessPolicy()
    who = actor or identity.current()
    for tenant in tenants_of(config, sources):
        try:
            access.require_any(policy, roles, tenant=tenant, actor=who)
        except AccessDenied as denied:
            _record_refusal(state_db, who, command, action, roles, tenant, str(denied))
            raise
    return who


def _record_refusal(
    state_db: pathlib.Path,
    who: identity.Actor,
    command: str,
    action: str,
    roles: tuple[Role, ...],
    tenant: str | None,
    reason: str,
) -> None:
    """Write the refusal to the audit log; when it cannot be written (someone without access to
    the state directory) the refusal stands all the same and is logged."""
    event = log.Event(
        action,
        who.name,
        "refused",
        subjects={"tenant": tenant} if tenant else {},
        details={
            "command": command,
            "roles_needed": [role.value for role in roles],
            "reason": reason,
            "via": who.via,
        },
    )
    try:
        log.append(state_db, event)
    except (log.AuditError, OSError) as error:
        logger.warning("the refusal of %s could not be recorded: %s", command, error)
