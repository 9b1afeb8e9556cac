"""The one table of location kinds: a kind name -> its spec type, spec builder and store.

Only the kind in use is imported (``importlib`` at ``open_store``): paramiko and boto3 each
cost most of a second of start-up, which a local-only run should not pay.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from targets import errors, specs, store


@dataclasses.dataclass(frozen=True)
class Kind:
    """One location kind: how its spec is built from config settings and where its store lives."""

    name: str
    spec_type: type
    from_settings: Callable[[str, Mapping[str, Any], str | None, specs.Credential], object]
    store_module: str
    store_class: str


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("local", specs.LocalSpec, specs.local_from_settings, "targets.local", "LocalStore"),
        Kind("sftp", specs.SftpSpec, specs.sftp_from_settings, "targets.sftp", "SftpStore"),
        Kind("s3", specs.S3Spec, specs.s3_from_settings, "targets.s3", "S3Store"),
    )
}


def kind_named(name: str) -> Kind:
    """Given a kind name ("local", "sftp", "s3"), return its Kind; raise TargetError when
    unknown."""
    try:
        return KINDS[name]
    except KeyError:
        raise errors.TargetError(f"unknown location kind {name!r}") from None


def kind_of(spec: object) -> Kind:
    """Given a spec, return its Kind; raise TargetError for a value that is no known spec."""
    for kind in KINDS.values():
        if type(spec) is kind.spec_type:
            return kind
    raise errors.TargetError(f"unknown location spec type {type(spec).__name__}")


def spec_from_settings(
    kind: str,
    *,
    name: str,
    settings: Mapping[str, Any],
    subpath: str | None,
    credential: specs.Credential,
) -> object:
    """Given a kind name, a location's name and settings, a sub-path (a source name, or None for
    the location's root) and a credential lookup, return the location's spec."""
    return kind_named(kind).from_settings(name, settings, subpath, credential)


def open_store(spec: object) -> store.RepositoryStore:
    """Given a location spec, return its store; raise TargetError for any other value. No
    connection is made until the first operation."""
    kind = kind_of(spec)
    module = importlib.import_module(kind.store_module)
    return getattr(module, kind.store_class)(spec)
