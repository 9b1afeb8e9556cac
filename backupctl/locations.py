"""Turn a configured location into the store of one source's repository there.

Every source has its own repository at every location (tenants never share one, so a
customer's backups can be destroyed on their own): ``<location path or prefix>/<source name>``.
S3 credentials come from the keystore, entries ``location/<name>/access_key_id`` and
``location/<name>/secret_access_key``.
"""

from __future__ import annotations

import importlib
import pathlib
import posixpath

from backupctl.config import Location
from backupctl.restic.flags import Repository
from targets.store import RepositoryStore, open_store


def access_key_entry(location: str) -> str:
    return f"location/{location}/access_key_id"


def secret_key_entry(location: str) -> str:
    return f"location/{location}/secret_access_key"


def spec_for(location: Location, source_name: str | None, keystore) -> object:
    """Given a location, a source name (None: the location's root) and the keystore, return its spec."""
    settings = location.settings
    # Only the kind in use is imported: paramiko and boto3 each cost about a second of start-up.
    kind = importlib.import_module(f"targets.{location.kind}")
    if location.kind == "local":
        root = pathlib.Path(settings["path"])
        return kind.LocalSpec(name=location.name, path=root / source_name if source_name else root)
    if location.kind == "sftp":
        root = settings["path"]
        return kind.SftpSpec(
            name=location.name, host=settings["host"], port=settings["port"], user=settings["user"],
            path=posixpath.join(root, source_name) if source_name else root,
            identity_file=pathlib.Path(settings["identity_file"]),
            known_hosts=pathlib.Path(settings["known_hosts"]),
        )
    prefix = settings["prefix"].strip("/")
    return kind.S3Spec(
        name=location.name, endpoint=settings["endpoint"], bucket=settings["bucket"],
        prefix="/".join(part for part in (prefix, source_name) if part),
        region=settings["region"],
        access_key_id=keystore.get(access_key_entry(location.name)).reveal(),
        secret_access_key=keystore.get(secret_key_entry(location.name)).reveal(),
        verify_tls=settings["verify_tls"],
    )


def store_for(location: Location, source_name: str, keystore) -> RepositoryStore:
    return open_store(spec_for(location, source_name, keystore))


def repository(store: RepositoryStore) -> Repository:
    """Given a store, return how restic reaches the same repository."""
    return Repository(url=store.restic_repository(), options=store.restic_options(),
                      environment=store.restic_environment())
