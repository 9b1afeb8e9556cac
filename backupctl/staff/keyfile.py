"""A staff member's private signing key file: where it lives, written and read as its owner.

backupctl runs as root (through sudo); the key file lives in the acting person's home
(``~/.config/backupctl/signing-key``, 0600, directories 0700). Root writes and reads it with
its effective uid and gid switched to that person, so a symlink or a file they planted can
never make root write or read anything they could not reach themselves. Reading also refuses a
key file that anyone else may read or that another account owns ("readable only by them").
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pwd
import stat
from collections.abc import Iterator

from backupctl.identity import Actor
from backupctl.keys import securefile, signing
from backupctl.keys.errors import UnsafeFile

RELATIVE_PATH = pathlib.Path(".config/backupctl/signing-key")


def default_path(actor: Actor) -> pathlib.Path:
    """Given the acting identity, return its key file's default path (from the account's home
    directory in the password database, never $HOME)."""
    try:
        home = pathlib.Path(pwd.getpwuid(actor.uid).pw_dir)
    except KeyError:
        raise signing.SigningKeyError(f"{actor.name} has no home directory; give --key") from None
    return home / RELATIVE_PATH


@contextlib.contextmanager
def as_owner(actor: Actor) -> Iterator[None]:
    """Within the block, act with the actor's effective uid and gid when we are root and they
    are not; otherwise change nothing."""
    if os.geteuid() != 0 or actor.uid == 0:
        yield
        return
    entry = pwd.getpwuid(actor.uid)
    groups = os.getgroups()
    os.setgroups([])
    os.setegid(entry.pw_gid)
    os.seteuid(actor.uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


def write_new(actor: Actor, path: pathlib.Path, data: bytes) -> None:
    """Given the actor, a path that must not exist and the key file bytes, create it 0600 (and
    its missing directories 0700) as the actor; raise SigningKeyError when it exists."""
    with as_owner(actor):
        try:
            _make_directories(path.parent)
            securefile.write_new(path, data, mode=0o600)
        except FileExistsError:
            raise signing.SigningKeyError(
                f"{path} already exists; refusing to overwrite a signing key"
            ) from None
        except OSError as error:
            raise signing.SigningKeyError(f"cannot write {path}: {error.strerror}") from None


def _make_directories(directory: pathlib.Path) -> None:
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    for part in reversed(missing):
        os.mkdir(part, 0o700)


def read(actor: Actor, path: pathlib.Path) -> bytes:
    """Given the actor and their key file's path, return its bytes; raise SigningKeyError when it
    is missing, a symlink, not theirs or readable by anyone else."""

    def only_theirs(status: os.stat_result) -> None:
        if status.st_uid != actor.uid:
            raise signing.SigningKeyError(f"{path} is not owned by {actor.name}; refusing it")
        if stat.S_IMODE(status.st_mode) & 0o077:
            raise signing.SigningKeyError(
                f"{path} may be read by others (mode {stat.S_IMODE(status.st_mode):o}); "
                "make it 0600 and enroll again if anyone could have copied it"
            )

    with as_owner(actor):
        try:
            return securefile.read_bounded(
                path, limit=signing.MAX_KEY_FILE_BYTES, what="signing key", check=only_theirs
            )
        except FileNotFoundError:
            raise signing.SigningKeyError(
                f"no signing key at {path}; run `backupctl staff enroll` first"
            ) from None
        except UnsafeFile as error:
            raise signing.SigningKeyError(str(error)) from None
        except OSError as error:
            raise signing.SigningKeyError(f"cannot read {path}: {error.strerror}") from None
