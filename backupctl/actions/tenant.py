"""Customers (tenants): list and show them; offboard, reinstate, hold, release, suspend, resume.

Every change is checked against the tenant's state (``backupctl/tenants/states.py``), recorded
with who, when and why in ``tenant_events`` and written to the audit log in the same
transaction (``tenant.<change>``; free text a person typed is kept in the tenant tables, the log
keeps its hash). A change the state does not allow is refused (exit 4) and recorded as refused.
Roles (docs/access.md): offboard, reinstate, hold and release need admin; suspend and resume
operator or admin; all of them for the tenant concerned.
"""

from __future__ import annotations

import datetime
import re

from backupctl import access, state
from backupctl.actions import audited
from backupctl.actions.tenant_view import TenantView, view
from backupctl.audit import log
from backupctl.config import Config
from backupctl.errors import ConfigError
from backupctl.identity import Actor
from backupctl.tenants import states
from backupctl.tenants import store as tenant_store
from policies.access import Role

__all__ = [
    "OFFBOARD_REASONS",
    "TenantView",
    "hold",
    "offboard",
    "reinstate",
    "release",
    "resume",
    "suspend",
    "show",
]

OFFBOARD_REASONS = states.OFFBOARD_REASONS
REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,99}$")
MAX_REASON = 500
MAX_FUTURE_DAYS = 366  # an effective date further ahead is a typing mistake
ADMIN = (Role.ADMIN,)
OPERATOR_OR_ADMIN = (Role.OPERATOR, Role.ADMIN)
LOOKERS = (Role.OPERATOR, Role.AUDITOR, Role.ADMIN)


def tenants(config: Config) -> list[str]:
    """Return every tenant: those of the config's sources, and any with recorded changes."""
    db = state.db_path(config.state_dir)
    return sorted(tenant_store.standings(db, _configured(config)))


def list_tenants(
    config: Config, *, actor: Actor, now: datetime.datetime | None = None
) -> list[TenantView]:
    """Return every tenant the actor may look at (a role limited to tenants sees only those)."""
    now = now or _now()
    return [
        view(config, name, now=now) for name in tenants(config) if _may_look(config, actor, name)
    ]


def show(
    config: Config, tenant: str, *, actor: Actor, now: datetime.datetime | None = None
) -> TenantView:
    """Given a tenant, return its sources, locations, state, dates and destruction record; raise
    ConfigError for an unknown tenant, AccessDenied without a looking role for it."""
    _known(config, tenant)
    _require(config, LOOKERS, actor=actor, action="tenant.show", tenant=tenant)
    return view(config, tenant, now=now or _now())


def offboard(
    config: Config,
    tenant: str,
    *,
    reason: str,
    effective: datetime.date,
    actor: Actor,
    now: datetime.datetime | None = None,
) -> TenantView:
    """Offboard a tenant from ``effective`` on (no backups, no restores; destroyed 90 days
    later); raise RefusedError when its state does not allow it, ConfigError for an unknown
    tenant or an effective date more than a year ahead."""
    now = now or _now()
    _known(config, tenant, configured=True)
    if effective > now.date() + datetime.timedelta(days=MAX_FUTURE_DAYS):
        raise ConfigError(f"--effective {effective}: more than {MAX_FUTURE_DAYS} days ahead")
    change = states.Change(states.Kind.OFFBOARD, actor.name, now, reason, effective=effective)
    due = datetime.datetime.combine(effective, datetime.time(), datetime.UTC)
    due += datetime.timedelta(days=states.COOLING_DAYS)
    details = {"reason": reason, "effective": effective.isoformat(), "destruction_due": f"{due}"}
    return _apply(config, tenant, change, ADMIN, actor=actor, details=details, now=now)


def reinstate(
    config: Config, tenant: str, *, reason: str, actor: Actor, now: datetime.datetime | None = None
) -> TenantView:
    """Undo an offboarding during the cooling period (admin)."""
    now = now or _now()
    change = states.Change(states.Kind.REINSTATE, actor.name, now, _text(reason))
    return _apply(config, tenant, change, ADMIN, actor=actor, now=now)


def hold(
    config: Config,
    tenant: str,
    *,
    reference: str,
    reason: str,
    actor: Actor,
    now: datetime.datetime | None = None,
) -> TenantView:
    """Place a legal hold (admin): rotation and destruction skip everything of the tenant."""
    now = now or _now()
    change = states.Change(
        states.Kind.HOLD, actor.name, now, _text(reason), reference=_reference(reference)
    )
    return _apply(config, tenant, change, ADMIN, actor=actor, now=now)


def release(
    config: Config,
    tenant: str,
    *,
    reference: str,
    reason: str,
    actor: Actor,
    now: datetime.datetime | None = None,
) -> TenantView:
    """Release the legal hold with ``reference`` (admin)."""
    now = now or _now()
    change = states.Change(
        states.Kind.RELEASE, actor.name, now, _text(reason), reference=_reference(reference)
    )
    return _apply(config, tenant, change, ADMIN, actor=actor, now=now)


def suspend(
    config: Config, tenant: str, *, reason: str, actor: Actor, now: datetime.datetime | None = None
) -> TenantView:
    """Suspend a tenant (operator or admin): restores refused, backups go on."""
    now = now or _now()
    change = states.Change(states.Kind.SUSPEND, actor.name, now, _text(reason))
    return _apply(config, tenant, change, OPERATOR_OR_ADMIN, actor=actor, now=now)


def resume(
    config: Config, tenant: str, *, reason: str, actor: Actor, now: datetime.datetime | None = None
) -> TenantView:
    """End a suspension (operator or admin)."""
    now = now or _now()
    change = states.Change(states.Kind.RESUME, actor.name, now, _text(reason))
    return _apply(config, tenant, change, OPERATOR_OR_ADMIN, actor=actor, now=now)


def _apply(
    config: Config,
    tenant: str,
    change: states.Change,
    roles: tuple[Role, ...],
    *,
    actor: Actor,
    now: datetime.datetime,
    details: dict | None = None,
) -> TenantView:
    """Check the role and the state, then record the change and its audit record together."""
    _known(config, tenant)
    action = f"tenant.{change.kind.value}"
    subjects = {"tenant": tenant, **({"reference": change.reference} if change.reference else {})}
    _require(config, roles, actor=actor, action=action, tenant=tenant, subjects=subjects)
    db = state.db_path(config.state_dir)
    try:
        with audited.transaction(db) as connection:
            standing = tenant_store.standing_in(connection, tenant)
            states.check(standing, change, now=now)
            tenant_store.append_in(connection, tenant, change)
            recorded = details or {"reason": audited.typed_text(change.reason)}
            log.append_in(connection, log.Event(action, change.actor, "ok", subjects, recorded))
    except states.NotAllowed as error:
        audited.refuse(db, action=action, actor=actor, reason=str(error), subjects=subjects)
    return view(config, tenant, now=now)


def _require(
    config: Config,
    roles: tuple[Role, ...],
    *,
    actor: Actor,
    action: str,
    tenant: str,
    subjects: dict | None = None,
) -> None:
    """Record a ``denied`` record and raise AccessDenied when the actor holds none of the roles
    for the tenant."""
    if any(_holds(config, role, actor, tenant) for role in roles):
        return
    audited.require_role(
        config, roles[0], actor=actor, action=action, tenant=tenant, subjects=subjects
    )


def _holds(config: Config, role: Role, actor: Actor, tenant: str) -> bool:
    try:
        access.require(config.access, role, tenant=tenant, actor=actor)
    except access.AccessDenied:
        return False
    return True


def _may_look(config: Config, actor: Actor, tenant: str) -> bool:
    return any(_holds(config, role, actor, tenant) for role in LOOKERS)


def _configured(config: Config) -> frozenset[str]:
    return frozenset(source.tenant for source in config.sources.values())


def _known(config: Config, tenant: str, *, configured: bool = False) -> None:
    """Raise ConfigError unless the tenant is one of the config's (or, unless ``configured``,
    has recorded changes)."""
    if tenant in _configured(config):
        return
    if not configured and tenant in tenants(config):
        return
    known = ", ".join(sorted(_configured(config))) or "none"
    raise ConfigError(f"unknown tenant {tenant!r} (tenants of the config's sources: {known})")


def _reference(value: str) -> str:
    if not REFERENCE.match(value):
        raise ConfigError(
            f"--reference {value!r}: a reference is 1-100 letters, digits and . _ / : -"
        )
    return value


def _text(value: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_REASON or any(ord(char) < 32 for char in text):
        raise ConfigError(f"--reason: 1 to {MAX_REASON} printable characters on one line")
    return text


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
