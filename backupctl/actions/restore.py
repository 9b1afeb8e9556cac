"""Restore requests: request (signed by the requester), approve (signed by an approver who is
not the requester), deny, list, show, and an auditor's acknowledgement of a break-glass restore.

Every step checks its role first and leaves an audit record; a refusal is a record too.
``restore run`` is in actions/restore_run.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import secrets
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backupctl import access, identity, state
from backupctl.actions import audited, snapshot_access
from backupctl.audit import log
from backupctl.config import Config
from backupctl.errors import RefusedError
from backupctl.identity import Actor
from backupctl.keys import signing
from backupctl.keys.secret import Secret
from backupctl.restic import restoring
from backupctl.restore import checks, gate, model, store, tree
from backupctl.staff import keyfile, registry
from policies import access as policy_access
from policies.access import Role


@dataclasses.dataclass(frozen=True)
class SigningInput:
    """How to reach the acting person's private key: its file (None: the default) and a
    passphrase callback (a TTY prompt or an inherited file descriptor, never argv)."""

    passphrase: Callable[[], Secret]
    key_file: pathlib.Path | None = None


@dataclasses.dataclass(frozen=True)
class RequestSpec:
    source: str
    snapshot: str | None
    at: datetime.datetime | None
    paths: tuple[str, ...]
    destination: str
    reason: str
    ticket: str


def db_of(config: Config) -> pathlib.Path:
    return state.db_path(config.state_dir)


def request(
    config: Config,
    spec: RequestSpec,
    *,
    actor: Actor,
    signer: SigningInput,
    now: datetime.datetime | None = None,
) -> model.RequestBody:
    """Given what to restore and where, record a pending request signed by the actor; return it.
    Raise AccessDenied, RefusedError (recorded) or ConfigError."""
    db, now = db_of(config), now or datetime.datetime.now(datetime.UTC)
    source = snapshot_access.source_named(config, spec.source)
    subjects = {"source": source.name, "tenant": source.tenant}
    audited.require_role(
        config,
        Role.RESTORE_REQUESTER,
        actor=actor,
        action="restore.request",
        tenant=source.tenant,
        subjects=subjects,
    )
    root = str(config.restore.root_for(config.state_dir))
    problem = (
        checks.text_problem("reason", spec.reason)
        or checks.text_problem("ticket", spec.ticket)
        or checks.destination_problem(spec.destination, root)
        or gate.refusal(db, source.tenant)
    )
    try:
        paths = tuple(sorted({checks.snapshot_path(path) for path in spec.paths}))
    except ValueError as error:
        problem = problem or str(error)
    if problem or len(spec.paths) > checks.MAX_PATHS:
        audited.refuse(
            db,
            action="restore.request",
            actor=actor,
            subjects=subjects,
            reason=problem or f"at most {checks.MAX_PATHS} --path",
        )
    private = signing_key(config, actor, signer, action="restore.request", subjects=subjects)
    opened = snapshot_access.first_healthy(config, source)
    snapshot = snapshot_access.pick_snapshot(opened.snapshots, snapshot=spec.snapshot, at=spec.at)
    if paths:
        _refuse_missing_paths(db, opened, snapshot.id, paths, actor=actor, subjects=subjects)
    body = model.RequestBody(
        id=secrets.token_hex(6),
        source=source.name,
        tenant=source.tenant,
        snapshot=snapshot.id,
        paths=paths,
        destination=str(pathlib.PurePosixPath(spec.destination)),
        requester=actor.name,
        reason=spec.reason,
        ticket=spec.ticket,
        created_at=checks.stamp(now),
        expires_at=checks.stamp(now + _validity(config)),
        key=signing.fingerprint(signing.public_of(private)),
    )
    signature = signing.sign(private, body.canonical())
    with audited.transaction(db) as connection:
        store.insert_in(connection, body, signature)
        log.append_in(
            connection,
            log.Event(
                "restore.request",
                actor.name,
                "ok",
                {**subjects, "request": body.id, "snapshot": body.snapshot},
                {
                    "ticket": body.ticket,
                    "reason": audited.typed_text(body.reason),
                    "paths": len(body.paths),
                },
            ),
        )
    return body


def _refuse_missing_paths(db, opened, snapshot: str, paths, *, actor: Actor, subjects) -> None:
    """Refuse (recorded) a request for paths the snapshot does not hold: an approver should never
    be asked to approve a restore of nothing."""
    _, nodes = restoring.ls(opened.restic, opened.repository, opened.password, snapshot)
    missing = tree.missing_paths(nodes, paths)
    if missing:
        audited.refuse(
            db,
            action="restore.request",
            actor=actor,
            subjects=subjects,
            reason=f"the snapshot holds no {missing[0]} ({len(missing)} path(s) missing)",
        )


def _validity(config: Config) -> datetime.timedelta:
    return datetime.timedelta(hours=config.restore.approval_hours)


def signing_key(
    config: Config, actor: Actor, signer: SigningInput, *, action: str, subjects: dict
) -> Ed25519PrivateKey:
    """Given the actor and how to reach their key, return their private key; refuse (recorded)
    when it is not their active registered key."""
    path = signer.key_file or keyfile.default_path(actor)
    private = signing.open_private(keyfile.read(actor, path), signer.passphrase(), where=str(path))
    fingerprint = signing.fingerprint(signing.public_of(private))
    with state.connect(db_of(config)) as connection:
        registered = registry.active_key(connection, actor.name)
    if registered is None or registered.fingerprint != fingerprint:
        audited.refuse(
            db_of(config),
            action=action,
            actor=actor,
            subjects=subjects,
            reason=f"the signing key {fingerprint} is not the registered key of {actor.name}",
        )
    return private


def approve(
    config: Config,
    request_id: str,
    *,
    actor: Actor,
    signer: SigningInput,
    now: datetime.datetime | None = None,
) -> store.StoredRequest:
    """Given a pending request, add the actor's signed approval; return the request as stored
    afterwards. Refuse (recorded) self-approval, a second approval by the same person, a request
    that is not pending or has expired, or whose own signature does not hold."""
    db, now = db_of(config), now or datetime.datetime.now(datetime.UTC)
    stored = _open_request(config, request_id, actor=actor, action="restore.approve", now=now)
    body = stored.body
    subjects = {"request": body.id, "source": body.source, "tenant": body.tenant}
    private = signing_key(config, actor, signer, action="restore.approve", subjects=subjects)
    approval = model.approval_for(
        body,
        approver=actor.name,
        at=checks.stamp(now),
        until=checks.stamp(now + _validity(config)),
        key=signing.fingerprint(signing.public_of(private)),
    )
    signature = signing.sign(private, approval.canonical())
    needed = config.restore.approvals_for(tenant=body.tenant, source=body.source)
    with audited.transaction(db) as connection:
        store.add_decision_in(
            connection,
            body.id,
            approver=actor.name,
            decision="approve",
            body=approval.canonical(),
            signature=signature,
            at=approval.approved_at,
        )
        count = len(store.load_in(connection, body.id).approvals)
        if count >= needed:
            store.set_status_in(connection, body.id, "approved")
        log.append_in(
            connection,
            log.Event(
                "restore.approve",
                actor.name,
                "ok",
                subjects,
                {"approvals": count, "needed": needed, "valid_until": approval.valid_until},
            ),
        )
    return store.load(db, body.id)


def deny(
    config: Config,
    request_id: str,
    *,
    actor: Actor,
    reason: str,
    now: datetime.datetime | None = None,
) -> store.StoredRequest:
    """Given a pending request, deny it with a reason (approver, not the requester)."""
    db, now = db_of(config), now or datetime.datetime.now(datetime.UTC)
    problem = checks.text_problem("reason", reason)
    if problem:
        raise RefusedError(f"refused: {problem}")
    stored = _open_request(config, request_id, actor=actor, action="restore.deny", now=now)
    body = stored.body
    with audited.transaction(db) as connection:
        store.add_decision_in(
            connection,
            body.id,
            approver=actor.name,
            decision="deny",
            body=b"",
            signature="",
            at=checks.stamp(now),
            reason=reason,
        )
        store.set_status_in(connection, body.id, "denied")
        log.append_in(
            connection,
            log.Event(
                "restore.deny",
                actor.name,
                "denied",
                {"request": body.id, "source": body.source, "tenant": body.tenant},
                {"reason": audited.typed_text(reason)},
            ),
        )
    return store.load(db, body.id)


def _open_request(
    config: Config, request_id: str, *, actor: Actor, action: str, now: datetime.datetime
) -> store.StoredRequest:
    """Load a request an approver acts on; refuse (recorded) what may not be decided."""
    db = db_of(config)
    stored = load_request(config, request_id, actor=actor, action=action)
    body = stored.body
    subjects = {"request": body.id, "source": body.source, "tenant": body.tenant}
    audited.require_role(
        config, Role.APPROVER, actor=actor, action=action, tenant=body.tenant, subjects=subjects
    )
    with state.connect(db) as connection:
        keys = lambda fingerprint: registry.by_fingerprint(connection, fingerprint)  # noqa: E731
        problem = checks.signature_problem(
            body.requester, body.key, body.canonical(), stored.signature, keys
        )
    if problem is None and body.requester == actor.name:
        problem = f"{actor.name} may not decide their own request"
    if problem is None and stored.status != "pending":
        problem = f"request {body.id} is {stored.status}, not pending"
    if problem is None and any(a.approver == actor.name for a in stored.approvals):
        problem = f"{actor.name} approved request {body.id} already"
    if problem is None and now >= checks.parse_time(body.expires_at):
        _expire(db, body, actor)
        problem = f"request {body.id} expired at {body.expires_at}"
    if problem:
        audited.refuse(db, action=action, actor=actor, subjects=subjects, reason=problem)
    return stored


def _expire(db: pathlib.Path, body: model.RequestBody, actor: Actor) -> None:
    with audited.transaction(db) as connection:
        store.set_status_in(connection, body.id, "expired")
        log.append_in(
            connection,
            log.Event(
                "restore.expired",
                actor.name,
                "refused",
                {"request": body.id, "source": body.source, "tenant": body.tenant},
                {"expired_at": body.expires_at},
            ),
        )


def load_request(
    config: Config, request_id: str, *, actor: Actor, action: str
) -> store.StoredRequest:
    """Return the stored request; raise RefusedError (recorded) when there is none."""
    stored = store.load(db_of(config), request_id) if _plausible(request_id) else None
    if stored is None:
        audited.refuse(
            db_of(config),
            action=action,
            actor=actor,
            subjects={"request": request_id[:32]},
            reason=f"no restore request {request_id[:32]!r}",
        )
    return stored


def _plausible(request_id: str) -> bool:
    return 0 < len(request_id) <= 32 and request_id.isalnum()


LOOKING_ROLES = (Role.RESTORE_REQUESTER, Role.APPROVER, Role.AUDITOR, Role.ADMIN)


def list_requests(config: Config, *, actor: Actor) -> list[dict]:
    """Return the newest requests of the tenants the actor holds a restore-requester, approver,
    auditor or admin role for."""
    _require_any(config, actor, "restore.list", tenant=None)
    return [
        row for row in store.summaries(db_of(config)) if _may_look(config, actor, row["tenant"])
    ]


def show(config: Config, request_id: str, *, actor: Actor) -> store.StoredRequest:
    """Return one request with its approvals and denials (a role for its tenant needed)."""
    stored = load_request(config, request_id, actor=actor, action="restore.show")
    _require_any(config, actor, "restore.show", tenant=stored.body.tenant)
    return stored


def _may_look(config: Config, actor: Actor, tenant: str) -> bool:
    groups = identity.groups_of(actor)
    return any(
        policy_access.missing(
            config.access, account=actor.name, groups=groups, role=role, tenant=tenant
        )
        is None
        for role in LOOKING_ROLES
    )


def _require_any(config: Config, actor: Actor, action: str, *, tenant: str | None) -> None:
    """Require one of the looking roles (for the tenant); the refusal names the first."""
    if tenant is None or not _may_look(config, actor, tenant):
        held = access.roles_of(config.access, actor)
        role = next((role for role in LOOKING_ROLES if role in held), Role.RESTORE_REQUESTER)
        audited.require_role(config, role, actor=actor, action=action, tenant=tenant)


def acknowledge(config: Config, request_id: str, *, actor: Actor) -> store.StoredRequest:
    """Given a break-glass restore, record an auditor's acknowledgement (not by the admin who
    broke the glass); it then leaves `status`."""
    db = db_of(config)
    stored = load_request(config, request_id, actor=actor, action="restore.break_glass_ack")
    subjects = {"request": request_id, "source": stored.body.source, "tenant": stored.body.tenant}
    audited.require_role(
        config,
        Role.AUDITOR,
        actor=actor,
        action="restore.break_glass_ack",
        tenant=stored.body.tenant,
        subjects=subjects,
    )
    problem = None
    if stored.break_glass_reason is None:
        problem = f"request {request_id} was not a break-glass restore"
    elif stored.acknowledged_by:
        problem = f"request {request_id} was acknowledged by {stored.acknowledged_by} already"
    elif stored.run_by == actor.name:
        problem = f"{actor.name} broke the glass and may not acknowledge it"
    if problem:
        audited.refuse(
            db, action="restore.break_glass_ack", actor=actor, subjects=subjects, reason=problem
        )
    with audited.transaction(db) as connection:
        store.set_status_in(
            connection,
            request_id,
            stored.status,
            acknowledged_by=actor.name,
            acknowledged_at=state.utc_now(),
        )
        log.append_in(connection, log.Event("restore.break_glass_ack", actor.name, "ok", subjects))
    return store.load(db, request_id)
