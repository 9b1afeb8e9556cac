"""Where each location kind keeps a repository: pure frozen values, apart from the stores.

Nothing here imports paramiko or boto3, so a spec can be built, compared and printed without
paying for either; ``targets/registry.py`` maps a kind name to its spec and its store.
Each kind also has a builder from the kind-specific config settings: ``subpath`` (a source
name) is appended to the location's path or prefix, and ``credential(key)`` returns a secret the
kind needs (only S3 asks, for ``access_key_id`` and ``secret_access_key``).
"""

from __future__ import annotations

import dataclasses
import pathlib
import posixpath
from collections.abc import Callable, Mapping
from typing import Any

Credential = Callable[[str], str]


@dataclasses.dataclass(frozen=True)
class LocalSpec:
    """Where a local repository lives: ``path`` is the repository directory itself."""

    name: str
    path: pathlib.Path


@dataclasses.dataclass(frozen=True)
class SftpSpec:
    """Where an SFTP repository lives; ``path`` is the absolute repository directory.

    ``connect_timeout`` bounds the TCP connect, banner and authentication; ``io_timeout`` bounds
    every wait for an answer from the server once connected."""

    name: str
    host: str
    port: int
    user: str
    path: str
    identity_file: pathlib.Path
    known_hosts: pathlib.Path
    connect_timeout: float = 10.0
    io_timeout: float = 60.0


@dataclasses.dataclass(frozen=True)
class S3Spec:
    """Where an S3 repository lives; ``prefix`` is the per-source key prefix inside the bucket.

    ``connect_timeout`` and ``read_timeout`` bound each HTTP attempt; ``max_attempts`` bounds the
    attempts of one call (first try plus retries)."""

    name: str
    endpoint: str
    bucket: str
    prefix: str
    region: str
    access_key_id: str
    secret_access_key: str = dataclasses.field(repr=False)
    verify_tls: bool = True
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 3


def local_from_settings(
    name: str, settings: Mapping[str, Any], subpath: str | None, credential: Credential
) -> LocalSpec:
    """Given a local location's settings, return the spec of ``<path>/<subpath>``."""
    root = pathlib.Path(settings["path"])
    return LocalSpec(name=name, path=root / subpath if subpath else root)


def sftp_from_settings(
    name: str, settings: Mapping[str, Any], subpath: str | None, credential: Credential
) -> SftpSpec:
    """Given an SFTP location's settings, return the spec of ``<path>/<subpath>`` on the server."""
    root = settings["path"]
    return SftpSpec(
        name=name,
        host=settings["host"],
        port=settings["port"],
        user=settings["user"],
        path=posixpath.join(root, subpath) if subpath else root,
        identity_file=pathlib.Path(settings["identity_file"]),
        known_hosts=pathlib.Path(settings["known_hosts"]),
    )


def s3_from_settings(
    name: str, settings: Mapping[str, Any], subpath: str | None, credential: Credential
) -> S3Spec:
    """Given an S3 location's settings and its credentials, return the spec of
    ``<prefix>/<subpath>`` in the bucket."""
    prefix = settings["prefix"].strip("/")
    return S3Spec(
        name=name,
        endpoint=settings["endpoint"],
        bucket=settings["bucket"],
        prefix="/".join(part for part in (prefix, subpath) if part),
        region=settings["region"],
        access_key_id=credential("access_key_id"),
        secret_access_key=credential("secret_access_key"),
        verify_tls=settings["verify_tls"],
    )
