"""The ``[access.restore]`` table: where restores may be written and how many approvals they need.

```toml
[access.restore]
root = "/srv/restores"          # every restore destination lies below it (default: STATE/restores)
approvals = 1                   # approvers needed for a restore (default 1)
approval_hours = 24             # a request and an approval stay valid this long (default 24)
tenant_approvals = { acme = 2 } # more approvers for a tenant's sources
source_approvals = { db1 = 2 }  # ... or for one source; the highest number that applies wins
```
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import types
from collections.abc import Mapping
from typing import Any

from backupctl import config_schema as schema

KEYS = ("root", "approvals", "approval_hours", "tenant_approvals", "source_approvals")
MAX_APPROVALS = 9
MAX_APPROVAL_HOURS = 24 * 30


@dataclasses.dataclass(frozen=True)
class RestoreSettings:
    """Where restores go and what they need; ``root`` None means ``<state_dir>/restores``."""

    root: pathlib.Path | None = None
    approvals: int = 1
    approval_hours: float = 24.0
    tenant_approvals: Mapping[str, int] = dataclasses.field(default_factory=dict)
    source_approvals: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def root_for(self, state_dir: pathlib.Path) -> pathlib.Path:
        return self.root or state_dir / "restores"

    def approvals_for(self, *, tenant: str, source: str) -> int:
        """Given a source and its tenant, return how many approvers a restore of it needs."""
        return max(
            self.approvals,
            self.tenant_approvals.get(tenant, 0),
            self.source_approvals.get(source, 0),
        )


def parse_restore(raw: Any, errors: list[str]) -> RestoreSettings:
    """Given the raw ``[access.restore]`` table (None when absent), return the settings; append
    each problem to errors."""
    if raw is None:
        return RestoreSettings()
    if not isinstance(raw, dict):
        errors.append("access.restore: expected a table")
        return RestoreSettings()
    for name in raw:
        if name not in KEYS:
            errors.append(f"access.restore.{name}: unknown key (known: {', '.join(KEYS)})")
    root = raw.get("root")
    if root is not None and (
        not isinstance(root, str) or not root.startswith("/") or ".." in root.split("/")
    ):
        errors.append("access.restore.root: must be an absolute path without '..'")
        root = None
    approvals = _count(raw.get("approvals", 1), "access.restore.approvals", errors)
    hours = raw.get("approval_hours", 24)
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        errors.append("access.restore.approval_hours: must be a number of hours")
        hours = 24
    elif not 0 < hours <= MAX_APPROVAL_HOURS:
        errors.append(
            f"access.restore.approval_hours: must be above 0, at most {MAX_APPROVAL_HOURS}"
        )
        hours = 24
    return RestoreSettings(
        root=pathlib.Path(os.path.normpath(root)) if root else None,
        approvals=approvals,
        approval_hours=float(hours),
        tenant_approvals=_counts(raw.get("tenant_approvals", {}), "tenant_approvals", errors),
        source_approvals=_counts(raw.get("source_approvals", {}), "source_approvals", errors),
    )


def _count(value: Any, where: str, errors: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_APPROVALS:
        errors.append(f"{where}: must be a whole number from 1 to {MAX_APPROVALS}")
        return 1
    return value


def _counts(raw: Any, key: str, errors: list[str]) -> Mapping[str, int]:
    where = f"access.restore.{key}"
    if not isinstance(raw, dict):
        errors.append(f"{where}: expected a table of name = number")
        return types.MappingProxyType({})
    counts = {}
    for name, value in raw.items():
        if not schema.NAME_PATTERN.match(name):
            errors.append(f"{where}.{name}: must be {schema.NAME_RULE}")
            continue
        counts[name] = _count(value, f"{where}.{name}", errors)
    return types.MappingProxyType(counts)
