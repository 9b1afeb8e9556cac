"""Staff signing keys: enroll (the person, as themselves), register, list and revoke (admin).

Every change is an audit record written in the same transaction as the change.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable

from backupctl import access, state
from backupctl.actions import audited
from backupctl.audit import log
from backupctl.config import Config
from backupctl.errors import RefusedError
from backupctl.identity import Actor
from backupctl.keys import securefile, signing
from backupctl.keys.recovery_key import DEFAULT_ARGON2, Argon2Params
from backupctl.keys.secret import Secret
from backupctl.staff import keyfile, registry
from policies.access import Role

MAX_PUBLIC_KEY_BYTES = 4096


@dataclasses.dataclass(frozen=True)
class Enrolled:
    key_file: pathlib.Path
    public_line: str
    fingerprint: str


def enroll(
    config: Config,
    *,
    actor: Actor,
    passphrase: Callable[[], Secret],
    key_file: pathlib.Path | None = None,
    params: Argon2Params = DEFAULT_ARGON2,
) -> Enrolled:
    """Given the acting staff member and their passphrase, write their new signing key (0600, as
    them) and return its public line for an admin to register; raise SigningKeyError when a key
    file exists there, WeakPassphrase for a weak passphrase."""
    path = key_file or keyfile.default_path(actor)
    if path.exists() or path.is_symlink():
        raise signing.SigningKeyError(f"{path} already exists; refusing to overwrite a signing key")
    data, public = signing.generate(actor.name, passphrase(), params=params)
    db = state.db_path(config.state_dir)
    log.append(
        db,
        log.Event(
            "staff.enroll",
            actor.name,
            "ok",
            {"account": actor.name},
            {"fingerprint": public.fingerprint},
        ),
    )
    try:
        keyfile.write_new(actor, path, data)
    except signing.SigningKeyError as error:
        log.append(
            db,
            log.Event(
                "staff.enroll",
                actor.name,
                "failed",
                {"account": actor.name},
                {"reason": audited.redact(str(error))},
            ),
        )
        raise
    return Enrolled(path, public.line(), public.fingerprint)


def register(
    config: Config, *, actor: Actor, account: str, public_key_file: pathlib.Path
) -> registry.StaffKey:
    """Given an account and its public key file, register the key (admin); the account's previous
    key is revoked. Raise AccessDenied, SigningKeyError or RefusedError."""
    db = state.db_path(config.state_dir)
    audited.require_role(
        config, Role.ADMIN, actor=actor, action="staff.register", subjects={"account": account}
    )
    try:
        text = securefile.read_bounded(
            public_key_file, limit=MAX_PUBLIC_KEY_BYTES, what="public key"
        ).decode("ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise signing.SigningKeyError(
            f"cannot read public key {public_key_file}: {error}"
        ) from None
    public = signing.parse_public(text, where=str(public_key_file))
    if public.account != account:
        audited.refuse(
            db,
            action="staff.register",
            actor=actor,
            subjects={"account": account},
            reason=f"the public key was made for {public.account}, not {account}",
        )
    now = state.utc_now()
    with audited.transaction(db) as connection:
        if registry.by_fingerprint(connection, public.fingerprint) is not None:
            raise RefusedError(f"key {public.fingerprint} is registered already; enroll anew")
        revoked = registry.insert_in(connection, public, by=actor.name, at=now)
        log.append_in(
            connection,
            log.Event(
                "staff.register",
                actor.name,
                "ok",
                {"account": account},
                {"fingerprint": public.fingerprint, "replaced": revoked},
            ),
        )
    return registry.StaffKey(account, public.fingerprint, public.raw, now, actor.name)


def revoke(config: Config, *, actor: Actor, account: str, reason: str) -> list[str]:
    """Revoke the account's active key (admin); return the fingerprints revoked; raise
    RefusedError when the account has none."""
    db = state.db_path(config.state_dir)
    audited.require_role(
        config, Role.ADMIN, actor=actor, action="staff.revoke", subjects={"account": account}
    )
    if not reason.strip():
        raise RefusedError("give --reason for revoking a key")
    with audited.transaction(db) as connection:
        revoked = registry.revoke_in(
            connection, account, by=actor.name, at=state.utc_now(), reason=reason
        )
        if not revoked:
            raise RefusedError(f"{account} has no active signing key")
        log.append_in(
            connection,
            log.Event(
                "staff.revoke",
                actor.name,
                "ok",
                {"account": account},
                {"fingerprints": revoked, "reason": audited.typed_text(reason)},
            ),
        )
    return revoked


def list_keys(config: Config, *, actor: Actor) -> list[registry.StaffKey]:
    """Return every registered key (admin or auditor may look; needs one of them)."""
    role = Role.AUDITOR if Role.AUDITOR in access.roles_of(config.access, actor) else Role.ADMIN
    audited.require_role(config, role, actor=actor, action="staff.list")
    return registry.all_keys(state.db_path(config.state_dir))
