"""Turn a configured location into the store of one source's repository there.

Every source has its own repository at every location (tenants never share one, so a
customer's backups can be destroyed on their own): ``<location path or prefix>/<source name>``.
S3 credentials come from the keystore, entries ``location/<name>/access_key_id`` and
``location/<name>/secret_access_key``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from backupctl.config import Location
from backupctl.restic.flags import Repository
from targets import registry
from targets.store import RepositoryStore

if TYPE_CHECKING:
    from backupctl.keys.store import Keystore


def access_key_entry(location: str) -> str:
    return _credential_entry(location, "access_key_id")


def secret_key_entry(location: str) -> str:
    return _credential_entry(location, "secret_access_key")


def _credential_entry(location: str, key: str) -> str:
    """Given a location name and a credential key the kind asks for, return its keystore entry."""
    return f"location/{location}/{key}"


def spec_for(location: Location, source_name: str | None, keystore: Keystore) -> object:
    """Given a location, a source name (None: the location's root) and the keystore, return its
    spec; the keystore is asked only for the credentials the kind needs (S3)."""

    def credential(key: str) -> str:
        return keystore.get(_credential_entry(location.name, key)).reveal()

    return registry.spec_from_settings(
        location.kind,
        name=location.name,
        settings=location.settings,
        subpath=source_name,
        credential=credential,
    )


def store_for(location: Location, source_name: str, keystore: Keystore) -> RepositoryStore:
    return registry.open_store(spec_for(location, source_name, keystore))


def repository(store: RepositoryStore, *, key_hint: str | None = None) -> Repository:
    """Given a store (and the id of the key restic should try first), return how restic reaches
    the same repository."""
    return Repository(
        url=store.restic_repository(),
        options=store.restic_options(),
        environment=store.restic_environment(),
        key_hint=key_hint,
    )


def shared_connection(store: RepositoryStore) -> contextlib.AbstractContextManager[None]:
    """Given a store, return a block inside which the restic processes given its options share
    one connection where its kind has one to share (SFTP: one ssh login, targets/ssh_master.py);
    for the other kinds a block that does nothing."""
    share = getattr(store, "shared_ssh", None)
    return share() if share is not None else contextlib.nullcontext()
