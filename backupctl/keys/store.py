"""The encrypted keystore: restic repository passwords and location credentials.

The file format is in :mod:`backupctl.keys.store_format` (docs/keystore.md). A keystore that
cannot be read is never written: every error leaves the file byte for byte as it was. Reads are
bounded (a regular file of at most 16 MiB, never through a symlink). Saving is atomic (temp file,
fsync, rename, fsync directory) under an flock on ``<path>.lock``; changes made meanwhile by
another process are merged, not lost. A keystore read in format 1 is written in format 2 on its
next save.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import os
import pathlib
import re
from collections.abc import Callable, Iterator, Mapping

from backupctl.keys import securefile, store_format
from backupctl.keys.errors import AlreadyExists, KeysError, KeystoreMissing
from backupctl.keys.secret import Secret
from backupctl.keys.store_format import Cipher

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 512
LOCK_TIMEOUT_SECONDS = 30.0
RANDOM_BYTES = 32  # a generated password: 256 random bits
# what ensure_random makes of RANDOM_BYTES: urlsafe base64 without its padding
_GENERATED = re.compile(r"[A-Za-z0-9_-]{43}")
MISSING_HINT = (
    "if it was lost or deleted, restore it from the escrow with `backupctl keys recover` "
    "(docs/keystore.md, 'Recovering a lost or damaged keystore'); only on a new installation "
    "create an empty one with `backupctl keys init`"
)


def check_name(name: str) -> None:
    """Raise KeysError unless ``name`` is a usable entry name (printable, 1-512 characters)."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise KeysError(f"keystore entry names are 1 to {MAX_NAME_LENGTH} characters")
    if any(ord(char) < 32 or ord(char) == 127 or 0xD800 <= ord(char) <= 0xDFFF for char in name):
        raise KeysError(f"keystore entry name {name!r} contains control characters")


def is_generated(password: Secret) -> bool:
    """Given a repository password, return whether it has the shape of one ``ensure_random``
    generated (256 random bits, urlsafe base64): such a password needs no stretching by a
    passphrase KDF (the fast key, docs/keystore.md)."""
    return bool(_GENERATED.fullmatch(password.reveal()))


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def read_file(path: pathlib.Path) -> bytes:
    """Given the keystore path, return its bytes; raise KeystoreMissing, UnsafeFile (a symlink,
    not a regular file, over 16 MiB) or KeysError."""
    try:
        return securefile.read_bounded(
            path,
            limit=store_format.MAX_KEYSTORE_BYTES,
            what="keystore",
            check=lambda status: _warn_if_shared(path, status),
        )
    except FileNotFoundError:
        raise KeystoreMissing(f"keystore {path} does not exist; {MISSING_HINT}") from None
    except OSError as error:
        raise KeysError(f"keystore {path} cannot be read: {error.strerror}") from None


def _warn_if_shared(path: pathlib.Path, status: os.stat_result) -> None:
    if status.st_mode & 0o077:
        logger.warning("keystore %s is accessible to group or other; chmod 600 it", path)


class Keystore:
    """Named secrets in one encrypted file. Construct with create, open or open_or_create."""

    def __init__(
        self,
        *,
        path: pathlib.Path,
        master: Secret,
        cipher: Cipher,
        entries: dict[str, str],
        disk_digest: bytes,
    ) -> None:
        self._path = path
        self._master = master
        self._cipher = cipher  # the keys of the file as last read or written
        self._base = entries  # the entries as last read from or written to disk
        self._pending: dict[str, str | None] = {}  # set (str) or deleted (None) since then
        self._disk_digest = disk_digest

    @property
    def path(self) -> pathlib.Path:
        return self._path

    @property
    def format_version(self) -> int:
        """The file format on disk: 1 is rewritten in format 2 on the next save."""
        return self._cipher.version

    @property
    def kdf_id(self) -> str:
        """The key derivation of the file on disk: ``hkdf-sha256`` or ``scrypt``."""
        return self._cipher.spec.kdf_id

    def __repr__(self) -> str:
        return f"Keystore(path={str(self._path)!r}, entries={len(self.names())})"

    @classmethod
    def create(
        cls,
        path: pathlib.Path,
        master: Secret,
        *,
        entries: Mapping[str, Secret] | None = None,
        replace_existing: bool = False,
    ) -> Keystore:
        """Given a path that does not exist, write a new keystore (with ``entries``) and return it;
        raise AlreadyExists when the path exists (never overwrites). Only recovery passes
        ``replace_existing``, after it has kept a copy of the file it replaces."""
        path = pathlib.Path(path)
        if not replace_existing and (path.exists() or path.is_symlink()):
            raise AlreadyExists(f"keystore {path} already exists; refusing to overwrite it")
        plain = {}
        for name, value in (entries or {}).items():
            check_name(name)
            plain[name] = _reveal(value)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise KeysError(
                f"keystore directory {path.parent} cannot be created: {error.strerror}"
            ) from None
        cipher = store_format.new_cipher(master)
        data = store_format.encode(plain, cipher, where=str(path))
        try:
            with _locked(path):
                if replace_existing:
                    securefile.write_atomic(path, data, what="keystore")
                else:
                    securefile.write_new(path, data)
        except FileExistsError:
            raise AlreadyExists(
                f"keystore {path} already exists; refusing to overwrite it"
            ) from None
        except OSError as error:
            raise KeysError(f"keystore {path} could not be written: {error.strerror}") from None
        logger.info("created keystore %s with %d entries", path, len(plain))
        return cls(
            path=path, master=master, cipher=cipher, entries=plain, disk_digest=_digest(data)
        )

    @classmethod
    def open(cls, path: pathlib.Path, master: Secret) -> Keystore:
        """Given the path of an existing keystore, return it opened; raise KeystoreMissing or
        KeystoreUnreadable (KeystoreDamaged, WrongMasterSecret) or UnsafeFile; the file is left
        untouched."""
        path = pathlib.Path(path)
        data = read_file(path)
        entries, cipher = store_format.decode(io.BytesIO(data), master, where=str(path))
        if cipher.version < store_format.FORMAT:
            logger.info(
                "keystore %s is in format %d; the next save writes format %d",
                path,
                cipher.version,
                store_format.FORMAT,
            )
        return cls(
            path=path, master=master, cipher=cipher, entries=entries, disk_digest=_digest(data)
        )

    @classmethod
    def open_or_create(cls, path: pathlib.Path, master: Secret) -> Keystore:
        """Open the keystore at ``path``, creating an empty one when there is none."""
        try:
            return cls.open(path, master)
        except KeystoreMissing:
            pass
        try:
            return cls.create(path, master)
        except AlreadyExists:  # another process created it meanwhile
            return cls.open(path, master)

    def get(self, name: str) -> Secret:
        """Return the entry ``name``; raise KeysError naming the entry when it is missing."""
        value = self._pending[name] if name in self._pending else self._base.get(name)
        if value is None:
            raise KeysError(f"keystore {self._path} has no entry {name!r}")
        return Secret(value)

    def set(self, name: str, value: Secret) -> None:
        """Set entry ``name`` in memory; :meth:`save` writes it."""
        check_name(name)
        self._pending[name] = _reveal(value)

    def delete(self, name: str) -> None:
        """Remove entry ``name`` in memory (for tenant offboarding); :meth:`save` writes it."""
        self.get(name)
        self._pending[name] = None

    def ensure_random(self, name: str, *, nbytes: int = RANDOM_BYTES) -> Secret:
        """Return entry ``name``, first generating a random password (urlsafe base64 of
        ``nbytes`` random bytes) when it is missing. A generated value is saved at once, with
        any other unsaved changes, so a password is never used before it is stored."""
        check_name(name)
        if name in self.names():
            return self.get(name)
        candidate = base64.urlsafe_b64encode(os.urandom(nbytes)).decode("ascii").rstrip("=")
        self._commit(lambda entries: entries.setdefault(name, candidate))
        return self.get(name)

    def names(self) -> list[str]:
        """Return the entry names, sorted."""
        merged = dict(self._base)
        merged.update(self._pending)
        return sorted(name for name, value in merged.items() if value is not None)

    def entries(self) -> dict[str, Secret]:
        """Return every entry (for the escrow)."""
        return {name: self.get(name) for name in self.names()}

    def save(self) -> None:
        """Write the keystore atomically (mode 0600) under the lock, merging changes another
        process saved meanwhile; raise KeysError (file untouched) when the file on disk
        has become unreadable."""
        self._commit(None)

    def _commit(self, mutate: Callable[[dict[str, str]], object] | None) -> None:
        with _locked(self._path):
            base = self._current_base()
            for name, value in self._pending.items():
                if value is None:
                    base.pop(name, None)
                else:
                    base[name] = value
            if mutate is not None:
                mutate(base)
            cipher = self._cipher_for_writing()
            data = store_format.encode(base, cipher, where=str(self._path))
            try:
                securefile.write_atomic(self._path, data, what="keystore")
            except OSError as error:
                raise KeysError(
                    f"keystore {self._path} could not be saved: {error.strerror}"
                ) from None
        self._base, self._pending, self._disk_digest = base, {}, _digest(data)
        self._cipher = cipher
        logger.info("saved keystore %s (%d entries)", self._path, len(base))

    def _current_base(self) -> dict[str, str]:
        """Return the entries on disk now: ours when unchanged, else re-read (lock held)."""
        try:
            data = read_file(self._path)
        except KeystoreMissing:
            logger.warning(
                "keystore %s disappeared since it was opened; writing it again", self._path
            )
            return dict(self._base)
        if _digest(data) == self._disk_digest:
            return dict(self._base)
        logger.info("keystore %s changed on disk since it was opened; merging", self._path)
        entries, self._cipher = store_format.decode(
            io.BytesIO(data), self._master, where=str(self._path), known=self._cipher
        )
        return entries

    def _cipher_for_writing(self) -> Cipher:
        """Return the cipher to save with: the file's own, or a new one when it is format 1."""
        if self._cipher.version == store_format.FORMAT:
            return self._cipher
        logger.info("rewriting keystore %s in format %d", self._path, store_format.FORMAT)
        return store_format.new_cipher(self._master)


def _reveal(value: Secret) -> str:
    if not isinstance(value, Secret):
        raise TypeError("keystore values must be Secret instances")
    return value.reveal()


@contextlib.contextmanager
def _locked(path: pathlib.Path) -> Iterator[None]:
    """Hold the keystore's write lock; tell lock failures as KeysError."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(securefile.locked(path, timeout=LOCK_TIMEOUT_SECONDS))
        except OSError as error:
            raise KeysError(f"keystore {path} lock: {error.strerror or error}") from None
        yield
