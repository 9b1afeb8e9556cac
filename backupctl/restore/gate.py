"""Whether a tenant's data may be restored at all: the hook the customer lifecycle issue fills.

Each gate is given the state database and a tenant and returns the reason a restore is refused
(offboarded, suspended, under legal hold, ...), or None. ``restore request`` and ``restore run``
ask every gate; break glass does not bypass them.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from backupctl.tenants import guard

TenantGate = Callable[[pathlib.Path, str], str | None]
# offboarded, being destroyed or destroyed, suspended (docs/tenants.md)
GATES: list[TenantGate] = [guard.restore_refusal]


def refusal(db: pathlib.Path, tenant: str) -> str | None:
    """Given the state database and a tenant, return why it may not be restored, or None."""
    for gate in GATES:
        reason = gate(db, tenant)
        if reason:
            return f"tenant {tenant} may not be restored: {reason}"
    return None
