"""Small pure helpers that turn values into restic argv pieces (the borgmatic flags.py habit)."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterable, Mapping


@dataclasses.dataclass(frozen=True)
class Restic:
    """Which restic to run, and its version (detected once per run)."""

    binary: str
    version: tuple[int, int, int]
    cache_dir: pathlib.Path


@dataclasses.dataclass(frozen=True)
class Repository:
    """How restic reaches one repository: its URL, extra options, environment (S3 keys), and
    the id of the key restic tries first (``--key-hint``: the fast key, docs/keystore.md)."""

    url: str
    options: tuple[str, ...] = ()
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    key_hint: str | None = None


def repeated(flag: str, values: Iterable[str]) -> tuple[str, ...]:
    """Given a flag and values, return the flag once per value: ("--tag", "a", "--tag", "b")."""
    return tuple(part for value in values for part in (flag, value))


def global_flags(restic: Restic, repository: Repository) -> tuple[str, ...]:
    """Given restic and a repository, return the flags every subcommand gets: the repository,
    restic's cache, the location's options and the key hint (when there is one)."""
    hint = ("--key-hint", repository.key_hint) if repository.key_hint else ()
    return (
        "--repo",
        repository.url,
        "--cache-dir",
        str(restic.cache_dir),
        *hint,
        *repository.options,
    )


def command(restic: Restic, repository: Repository, subcommand: str, *rest: str) -> tuple[str, ...]:
    """Given a subcommand and its own flags, return the whole argv with the global flags."""
    return (restic.binary, subcommand, *global_flags(restic, repository), *rest)
