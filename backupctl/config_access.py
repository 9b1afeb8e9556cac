"""The ``[access]`` table of the configuration: staff and groups, their roles and tenants.

```toml
[access.staff.alice]
roles = ["restore-requester"]
tenants = ["acme"]            # optional: limited to these tenants

[access.groups.backup-approvers]
roles = ["approver"]
```

Without an ``[access]`` table the deployment is single-operator (policies/access.py).
"""

from __future__ import annotations

from typing import Any

from backupctl import config_schema as schema
from policies import access

GRANT_KEYS = (
    schema.Key(
        "roles",
        "list[str]",
        required=True,
        help=f"Roles given: {', '.join(access.ROLE_NAMES)}.",
    ),
    schema.Key(
        "tenants",
        "list[str]",
        default=(),
        help="Tenants the roles are limited to (default: every tenant).",
    ),
)
GRANT_SECTIONS = ("staff", "groups")
OTHER_SECTIONS = ("restore",)  # [access.restore]: backupctl/config_restore.py


def parse_access(raw: Any, errors: list[str]) -> access.AccessPolicy:
    """Given the raw ``[access]`` table (None when absent), return the access policy; append
    each problem to errors."""
    if raw is None:
        return access.AccessPolicy()
    if not isinstance(raw, dict):
        errors.append("access: expected a table")
        return access.AccessPolicy()
    for name in raw:
        if name not in GRANT_SECTIONS + OTHER_SECTIONS:
            known = ", ".join(GRANT_SECTIONS + OTHER_SECTIONS)
            errors.append(f"access.{name}: unknown key (known: {known})")
    grants = []
    for kind in GRANT_SECTIONS:
        section = raw.get(kind, {})
        if not isinstance(section, dict):
            errors.append(f"access.{kind}: expected a table of named tables")
            continue
        for name, table in section.items():
            grant = _parse_grant(kind, name, table, errors)
            if grant is not None:
                grants.append(grant)
    # [access.restore] alone configures restores, not who may act: still single-operator
    single = not any(kind in raw for kind in GRANT_SECTIONS)
    return access.AccessPolicy(grants=tuple(grants), single_operator=single)


def _parse_grant(kind: str, name: str, table: Any, errors: list[str]) -> access.Grant | None:
    where = f"access.{kind}.{name}"
    if not _valid_account_name(name):
        errors.append(f"{where}: not a valid account or group name")
        return None
    values = schema.check_table(table, GRANT_KEYS, where, errors)
    if values.get("roles") is None:
        return None
    roles, unknown = access.parse_roles(values["roles"])
    for role in unknown:
        errors.append(
            f"{where}.roles: unknown role {role!r} (known: {', '.join(access.ROLE_NAMES)})"
        )
    for tenant in values["tenants"]:
        if not schema.NAME_PATTERN.match(tenant):
            errors.append(f"{where}.tenants: {tenant!r} must be {schema.NAME_RULE}")
    return access.Grant(kind=kind, name=name, roles=roles, tenants=frozenset(values["tenants"]))


def _valid_account_name(name: str) -> bool:
    """Debian's account names: lowercase letters, digits, '_', '-' and '.', up to 32."""
    return bool(
        0 < len(name) <= 32
        and (name[0].isalpha() or name[0] == "_")
        and all(c.isalnum() or c in "._-" for c in name)
        and name.isascii()
    )
