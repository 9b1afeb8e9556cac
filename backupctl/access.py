"""Check the acting identity's role before a command touches anything (statement 7.1, 7.3).

``require`` is called first thing in every action that reads or changes customer data, keys,
jobs or the log; a refusal names the missing role and exits 4 (docs/access.md).
"""

from __future__ import annotations

from backupctl import identity
from backupctl.errors import RefusedError
from policies import access
from policies.access import Role

__all__ = ["AccessDenied", "Role", "require", "require_any", "roles_of"]


class AccessDenied(RefusedError):
    """The acting identity does not hold the role a command needs."""


def require(
    policy: access.AccessPolicy,
    role: Role,
    *,
    tenant: str | None = None,
    actor: identity.Actor | None = None,
) -> identity.Actor:
    """Given the config's access policy and the role a command needs, return the acting identity;
    raise AccessDenied naming the missing role when the actor does not hold it."""
    who = actor or identity.current()
    if policy.single_operator:
        return who
    problem = access.missing(
        policy, account=who.name, groups=identity.groups_of(who), role=role, tenant=tenant
    )
    if problem:
        raise AccessDenied(f"refused: {problem} (docs/access.md)")
    return who


def require_any(
    policy: access.AccessPolicy,
    roles: tuple[Role, ...],
    *,
    tenant: str | None = None,
    actor: identity.Actor | None = None,
) -> identity.Actor:
    """Given the access policy and the roles of which a command needs one, return the acting
    identity; raise AccessDenied naming every role that would do when the actor holds none."""
    who = actor or identity.current()
    if policy.single_operator:
        return who
    groups = identity.groups_of(who)
    problems = [
        access.missing(policy, account=who.name, groups=groups, role=role, tenant=tenant)
        for role in roles
    ]
    if all(problems):
        scope = f" for tenant {tenant}" if tenant else ""
        names = " or ".join(role.value for role in roles)
        raise AccessDenied(f"refused: {who.name} lacks the role {names}{scope} (docs/access.md)")
    return who


def roles_of(policy: access.AccessPolicy, actor: identity.Actor) -> frozenset[Role]:
    """Given the access policy and an actor, return the roles the actor holds."""
    return policy.roles_of(actor.name, identity.groups_of(actor))
