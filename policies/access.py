"""Who may do what (statement 7.1, 7.3): staff roles and the grants that give them, as data.

Pure: the caller names the account, its groups, the role a command needs and the tenant it
touches; ``missing`` answers whether that is allowed and, if not, what is missing. A grant names
an account (``staff.NAME``) or a group (``groups.NAME``), its roles, and optionally the tenants
it is limited to (none: every tenant).

A configuration without an access policy is *single-operator*: whoever can run backupctl as root
holds every role (what a one-person shop has anyway), and ``config validate`` says so.
"""

from __future__ import annotations

import dataclasses
import enum


class Role(enum.StrEnum):
    TECHNICIAN = "technician"  # the recovery bench: media, jobs, images, scans, tapes
    OPERATOR = "operator"  # backups, replication, verification, rotation, schedules
    RESTORE_REQUESTER = "restore-requester"  # ask for a restore, browse a snapshot's tree
    APPROVER = "approver"  # approve or deny someone else's restore request
    AUDITOR = "auditor"  # read the audit log, acknowledge break-glass restores
    ADMIN = "admin"  # keys, staff registration, break-glass restores


ROLE_NAMES = tuple(role.value for role in Role)


@dataclasses.dataclass(frozen=True)
class Grant:
    """Roles given to one account (``kind`` "staff") or group (``kind`` "groups")."""

    kind: str  # "staff" or "groups"
    name: str
    roles: frozenset[Role]
    tenants: frozenset[str] = frozenset()  # empty: every tenant

    def covers(self, account: str, groups: frozenset[str]) -> bool:
        return self.name == account if self.kind == "staff" else self.name in groups

    def allows(self, role: Role, tenant: str | None) -> bool:
        if role not in self.roles:
            return False
        return not self.tenants or tenant is None or tenant in self.tenants


@dataclasses.dataclass(frozen=True)
class AccessPolicy:
    """The grants of a configuration; ``single_operator`` when the config has none."""

    grants: tuple[Grant, ...] = ()
    single_operator: bool = True

    def roles_of(self, account: str, groups: frozenset[str]) -> frozenset[Role]:
        """Given an account and its groups, return every role any grant gives it."""
        if self.single_operator:
            return frozenset(Role)
        found: set[Role] = set()
        for grant in self.grants:
            if grant.covers(account, groups):
                found |= grant.roles
        return frozenset(found)


def missing(
    policy: AccessPolicy,
    *,
    account: str,
    groups: frozenset[str],
    role: Role,
    tenant: str | None = None,
) -> str | None:
    """Given who acts, the role needed and the tenant touched, return None when allowed, else a
    sentence naming the missing role (and tenant)."""
    if policy.single_operator:
        return None
    for grant in policy.grants:
        if grant.covers(account, groups) and grant.allows(role, tenant):
            return None
    scope = f" for tenant {tenant}" if tenant else ""
    return f"{account} lacks the role {role.value}{scope}"


def parse_roles(values: list[str]) -> tuple[frozenset[Role], list[str]]:
    """Given role names from the config, return the roles and the names that are not roles."""
    roles = {Role(value) for value in values if value in ROLE_NAMES}
    unknown = [value for value in values if value not in ROLE_NAMES]
    return frozenset(roles), unknown
