"""The uniform store API every location kind implements, and the rules all kinds share.

A store is one restic repository at one location. ``list_files`` reports only the files restic
keeps for good (``config``, ``keys/``, ``data/xx/``, ``index/``, ``snapshots/``): never
``locks/`` and never temporary files, so a replicator can trust every name it sees.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import typing

from targets import errors

REPOSITORY_DIRECTORIES = ("keys", "data", "index", "snapshots")
_CONTENT_NAME = re.compile(r"^[0-9a-f]{64}$")
TEMPORARY_MARKER = ".tmp-"
_TOKEN_BYTES = 8
# exactly what temporary_name makes for a repository file: a dot, the final name, the marker and
# 16 hex digits; nothing else is ever taken for one of our temporary files
_TEMPORARY_NAME = re.compile(r"^\.(config|[0-9a-f]{64})\.tmp-[0-9a-f]{16}$")


class RepositoryStore(typing.Protocol):
    """One restic repository at one location (local directory, SFTP host or S3 bucket).

    A store may set ``close_may_block = False`` when its ``close`` releases nothing (a local
    directory): callers then close it directly instead of on a thread with a deadline.
    """

    name: str

    def restic_repository(self) -> str: ...

    def restic_options(self) -> tuple[str, ...]: ...

    def restic_environment(self) -> dict[str, str]: ...

    def list_files(self) -> dict[str, int]: ...

    def read(self, relative_path: str, *, limit: int | None = None) -> bytes: ...

    def write(self, relative_path: str, data: bytes) -> None: ...

    def delete(self, relative_path: str) -> None: ...

    def ping(self) -> None: ...

    def remove_stale_temporaries(self, older_than_seconds: float) -> list[str]: ...

    def close(self) -> None: ...

    def __enter__(self) -> typing.Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


@dataclasses.dataclass(frozen=True)
class Removal:
    """What removing everything left of a repository did: how many entries went (files,
    directories, S3 object versions and delete markers), and what stayed, each with why."""

    removed: int
    kept: tuple[str, ...] = ()


class DestroyableStore(RepositoryStore, typing.Protocol):
    """A store that can list and remove *everything* below its repository, not only the files
    restic keeps: locks, temporary and stray files, directories, S3 noncurrent versions and
    delete markers (tenant destruction, docs/tenants.md)."""

    def leftovers(self) -> list[str]: ...

    def remove_leftovers(self) -> Removal: ...


MAX_LEFTOVERS = 1_000_000  # entries looked at below one repository; more is not ours


class ClosingMixin:
    """Give a store ``with`` support on top of its ``close``."""

    def close(self) -> None:  # pragma: no cover - overridden
        """Release the store's connections."""

    def __enter__(self) -> typing.Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def is_repository_file(relative_path: str) -> bool:
    """Given a repository-relative path, return whether it is a file restic keeps for good.

    ``config``; ``keys/``, ``index/``, ``snapshots/`` followed by a SHA-256 name; and
    ``data/xx/<sha256>`` where ``xx`` is the first two characters of the name.
    """
    parts = relative_path.split("/")
    if parts == ["config"]:
        return True
    if len(parts) == 2 and parts[0] in ("keys", "index", "snapshots"):
        return bool(_CONTENT_NAME.match(parts[1]))
    if len(parts) == 3 and parts[0] == "data":
        return bool(_CONTENT_NAME.match(parts[2])) and parts[2][:2] == parts[1]
    return False


def check_relative_path(location: str, relative_path: str) -> str:
    """Given a path inside a repository, return it unchanged; raise InvalidPath when it is empty,
    absolute, has empty or dot segments, or contains a backslash or NUL."""
    parts = relative_path.split("/")
    bad = (
        not relative_path
        or relative_path.startswith("/")
        or "\\" in relative_path
        or "\0" in relative_path
        or any(part in ("", ".", "..") for part in parts)
        or TEMPORARY_MARKER in parts[-1]
    )
    if bad:
        raise errors.InvalidPath(f"location {location}: invalid repository path {relative_path!r}")
    return relative_path


def temporary_name(final_name: str, token: str | None = None) -> str:
    """Given a file name (and a token, random when None), return the hidden name a write uses
    before renaming."""
    return f".{final_name}{TEMPORARY_MARKER}{token or secrets.token_hex(_TOKEN_BYTES)}"


def is_temporary_name(file_name: str) -> bool:
    """Given a file name (no directory), return whether it is one ``temporary_name`` makes."""
    return bool(_TEMPORARY_NAME.match(file_name))


def temporary_directories(data_directories: typing.Iterable[str]) -> tuple[str, ...]:
    """Given the names of the ``data/xx`` directories found, return every repository-relative
    directory a write can leave a temporary file in ("" is the repository itself)."""
    return ("", *REPOSITORY_DIRECTORIES, *(f"data/{name}" for name in sorted(data_directories)))


def check_size(location: str, relative_path: str, size: int, limit: int | None) -> None:
    """Raise TargetError when a file of ``size`` bytes is larger than ``limit`` (None: no limit);
    called before the content is read, so an oversized file is never read."""
    if limit is not None and size > limit:
        raise errors.TargetError(
            f"location {location}: {relative_path} is {size} bytes, more than the {limit} allowed"
        )
