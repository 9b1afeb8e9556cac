"""Who is acting: the login identity of the session, not what the environment claims.

The kernel's login uid (``/proc/self/loginuid``, set by pam_loginuid at login and kept across
``sudo`` and ``su``) names the person behind a session. Where it is unset (a container, a
service), a ``sudo`` invocation is believed only when the process tree confirms it: ``SUDO_UID``
must equal the real uid of the process that started the ``sudo`` above us. Otherwise the actor
is the real uid of this process. Environment variables alone are never trusted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import pwd

UNSET_LOGINUID = 4294967295  # (uid_t)-1: no login session recorded
PROC = pathlib.Path("/proc")
# How far up the process tree a sudo may be found (sudo -> shell -> backupctl is typical).
MAX_ANCESTORS = 8


@dataclasses.dataclass(frozen=True)
class Actor:
    """A staff identity: the account's uid and name, and how it was established."""

    uid: int
    name: str
    via: str  # "loginuid", "sudo" or "uid"

    def __str__(self) -> str:
        return self.name


def current(proc: pathlib.Path = PROC, environ: dict[str, str] | None = None) -> Actor:
    """Return the acting identity of this process (see the module docstring)."""
    environ = dict(os.environ) if environ is None else environ
    login_uid = _login_uid(proc / "self" / "loginuid")
    if login_uid is not None:
        return Actor(login_uid, _account_name(login_uid), "loginuid")
    sudo_uid = _confirmed_sudo_uid(proc, environ)
    if sudo_uid is not None:
        return Actor(sudo_uid, _account_name(sudo_uid), "sudo")
    uid = os.getuid()
    return Actor(uid, _account_name(uid), "uid")


def _login_uid(path: pathlib.Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    if not text.isdigit() or int(text) == UNSET_LOGINUID:
        return None
    return int(text)


def _confirmed_sudo_uid(proc: pathlib.Path, environ: dict[str, str]) -> int | None:
    """Return SUDO_UID when a ``sudo`` ancestor was started by a process of that real uid."""
    claimed = environ.get("SUDO_UID", "")
    if not claimed.isdigit():
        return None
    pid = os.getppid()
    for _ in range(MAX_ANCESTORS):
        if pid <= 1:
            return None
        status = _status(proc / str(pid) / "status")
        if status is None:
            return None
        if status.get("Name") == "sudo":
            parent = _status(proc / status.get("PPid", "0") / "status")
            if parent is None:
                return None
            real_uid = parent.get("Uid", "").split()[:1]
            return int(claimed) if real_uid == [claimed] else None
        pid = int(status.get("PPid", "0"))
    return None


def _status(path: pathlib.Path) -> dict[str, str] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(8192)
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _account_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def groups_of(actor: Actor) -> frozenset[str]:
    """Given an actor, return the names of the groups their account belongs to."""
    import grp

    try:
        entry = pwd.getpwuid(actor.uid)
    except KeyError:
        return frozenset()
    names = {group.gr_name for group in grp.getgrall() if entry.pw_name in group.gr_mem}
    with contextlib.suppress(KeyError):
        names.add(grp.getgrgid(entry.pw_gid).gr_name)
    return frozenset(names)
