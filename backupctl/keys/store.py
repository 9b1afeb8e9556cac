"""The encrypted keystore: restic repository passwords and location credentials.

File format (docs/keystore.md): a :mod:`backupctl.keys.sealed` container with magic ``BCTLKEYS``; the
header names the KDF (scrypt, with its parameters and salt) and the AEAD (AES-256-GCM, with its
nonce), and is authenticated as associated data; the ciphertext holds a JSON object of entries.

A keystore that cannot be read is never written: every error leaves the file byte for byte as it
was. Saving is atomic (temp file, fsync, rename, fsync directory) under an flock on
``<path>.lock``; changes made meanwhile by another process are merged, not lost.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import pathlib
from collections.abc import Callable, Iterator, Mapping
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from backupctl.keys import sealed, securefile
from backupctl.keys.errors import KeysError, KeystoreMissing, KeystoreUnreadable
from backupctl.keys.secret import Secret

logger = logging.getLogger(__name__)

RECOVERY_HINT = "see docs/keystore.md, 'Recovering a lost or damaged keystore'"
MAX_NAME_LENGTH = 512
LOCK_TIMEOUT_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class KdfParams:
    """scrypt cost parameters; the defaults cost about 32 MiB and 0.15 s per derivation."""

    n: int = 2**15
    r: int = 8
    p: int = 1


DEFAULT_KDF = KdfParams()


@dataclasses.dataclass(frozen=True)
class _Cipher:
    key: bytes
    salt: bytes
    kdf: KdfParams


def _derive(master: Secret, *, salt: bytes, kdf: KdfParams) -> _Cipher:
    key = Scrypt(salt=salt, length=32, n=kdf.n, r=kdf.r, p=kdf.p).derive(
        master.reveal().encode("utf-8")
    )
    return _Cipher(key=key, salt=salt, kdf=kdf)


def encode(entries: Mapping[str, str], cipher: _Cipher) -> bytes:
    """Given plain entries and a cipher, return the keystore file bytes (fresh random nonce)."""
    payload = json.dumps({"entries": dict(entries), "format": 1}, sort_keys=True).encode("ascii")
    nonce = os.urandom(12)
    header = {
        "kind": "keystore",
        "kdf": {
            "id": "scrypt",
            "n": cipher.kdf.n,
            "r": cipher.kdf.r,
            "p": cipher.kdf.p,
            "salt": sealed.b64encode(cipher.salt),
        },
        "aead": {"id": "AES-256-GCM", "nonce": sealed.b64encode(nonce)},
    }
    return sealed.seal(
        magic=sealed.KEYSTORE_MAGIC,
        header=header,
        encrypt=lambda associated: AESGCM(cipher.key).encrypt(nonce, payload, associated),
    )


def decode(
    stream: BinaryIO, master: Secret, *, where: str, known: _Cipher | None = None
) -> tuple[dict[str, str], _Cipher]:
    """Given a keystore file object, return its entries and cipher; raise KeystoreUnreadable
    saying whether it is not a keystore, damaged, or not opened by this master secret."""
    try:
        container = sealed.parse(stream, magic=sealed.KEYSTORE_MAGIC)
        kdf, salt, nonce = _header_parameters(container.header)
    except sealed.NotThisFormat:
        raise KeystoreUnreadable(
            f"{where} is not a backupctl keystore (unrecognised file format); it was left untouched"
        ) from None
    except sealed.DamagedContainer as error:
        raise KeystoreUnreadable(
            f"keystore {where} is damaged or from a newer backupctl ({error}); it was left "
            f"untouched; {RECOVERY_HINT}"
        ) from None
    cipher = (
        known
        if known and (known.salt, known.kdf) == (salt, kdf)
        else _derive(master, salt=salt, kdf=kdf)
    )
    try:
        payload = AESGCM(cipher.key).decrypt(nonce, container.ciphertext, container.associated_data)
    except InvalidTag:
        raise KeystoreUnreadable(
            f"keystore {where} cannot be decrypted: the master secret is wrong or the file is "
            f"damaged; it was left untouched; {RECOVERY_HINT}"
        ) from None
    return _entries_from_payload(payload, where=where), cipher


def _header_parameters(header: dict) -> tuple[KdfParams, bytes, bytes]:
    if sealed.header_field(header, "kind") != "keystore":
        raise sealed.DamagedContainer("header kind is not keystore")
    if sealed.header_field(header, "kdf", "id") != "scrypt":
        raise sealed.DamagedContainer("unsupported key derivation")
    if sealed.header_field(header, "aead", "id") != "AES-256-GCM":
        raise sealed.DamagedContainer("unsupported cipher")
    kdf = KdfParams(*(sealed.header_field(header, "kdf", key) for key in ("n", "r", "p")))
    if not _kdf_is_sane(kdf):
        raise sealed.DamagedContainer("key derivation parameters out of range")
    salt = sealed.header_bytes_field(header, "kdf", "salt", size_range=(16, 64))
    nonce = sealed.header_bytes_field(header, "aead", "nonce", size_range=(12, 12))
    return kdf, salt, nonce


def _kdf_is_sane(kdf: KdfParams) -> bool:
    if not all(
        isinstance(value, int) and not isinstance(value, bool) for value in dataclasses.astuple(kdf)
    ):
        return False
    power_of_two = kdf.n > 1 and kdf.n & (kdf.n - 1) == 0
    return power_of_two and 2**10 <= kdf.n <= 2**18 and 1 <= kdf.r <= 32 and 1 <= kdf.p <= 16


def _entries_from_payload(payload: bytes, *, where: str) -> dict[str, str]:
    try:
        entries = json.loads(payload.decode("ascii"))["entries"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        entries = None
    if not isinstance(entries, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in entries.items()
    ):
        raise KeystoreUnreadable(
            f"keystore {where} decrypted, but its content is malformed; {RECOVERY_HINT}"
        )
    return entries


def check_name(name: str) -> None:
    """Raise KeysError unless ``name`` is a usable entry name (printable, 1-512 characters)."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise KeysError(f"keystore entry names are 1 to {MAX_NAME_LENGTH} characters")
    if any(ord(char) < 32 or ord(char) == 127 or 0xD800 <= ord(char) <= 0xDFFF for char in name):
        raise KeysError(f"keystore entry name {name!r} contains control characters")


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _read(path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeystoreMissing(
            f"keystore {path} does not exist; create it with `backupctl keys init` (or "
            f"`backupctl init`), or restore it from the escrow with `backupctl keys recover`"
        ) from None
    except IsADirectoryError:
        raise KeystoreUnreadable(f"keystore {path} is a directory") from None
    except OSError as error:
        raise KeysError(f"keystore {path} cannot be read: {error.strerror}") from None


class Keystore:
    """Named secrets in one encrypted file. Construct with create, open or open_or_create."""

    def __init__(
        self,
        *,
        path: pathlib.Path,
        master: Secret,
        cipher: _Cipher,
        entries: dict[str, str],
        disk_digest: bytes,
    ) -> None:
        self._path = path
        self._master = master
        self._cipher = cipher
        self._base = entries  # the entries as last read from or written to disk
        self._pending: dict[str, str | None] = {}  # set (str) or deleted (None) since then
        self._disk_digest = disk_digest

    @property
    def path(self) -> pathlib.Path:
        return self._path

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
        raise KeysError when the path exists (never overwrites). Only recovery passes
        ``replace_existing``, after it has kept a copy of the file it replaces."""
        path = pathlib.Path(path)
        if not replace_existing and (path.exists() or path.is_symlink()):
            raise KeysError(f"keystore {path} already exists; refusing to overwrite it")
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
        cipher = _derive(master, salt=os.urandom(16), kdf=DEFAULT_KDF)
        data = encode(plain, cipher)
        try:
            with _locked(path):
                (securefile.write_atomic if replace_existing else securefile.write_new)(path, data)
        except FileExistsError:
            raise KeysError(
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
        KeystoreUnreadable (the file is left untouched)."""
        path = pathlib.Path(path)
        data = _read(path)
        entries, cipher = decode(io.BytesIO(data), master, where=str(path))
        if path.stat().st_mode & 0o077:
            logger.warning("keystore %s is accessible to group or other; chmod 600 it", path)
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
        except KeysError:
            if pathlib.Path(path).exists():  # another process created it meanwhile
                return cls.open(path, master)
            raise

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

    def ensure_random(self, name: str, *, nbytes: int = 32) -> Secret:
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
            data = encode(base, self._cipher)
            try:
                securefile.write_atomic(self._path, data)
            except OSError as error:
                raise KeysError(
                    f"keystore {self._path} could not be saved: {error.strerror}"
                ) from None
        self._base, self._pending, self._disk_digest = base, {}, _digest(data)
        logger.info("saved keystore %s (%d entries)", self._path, len(base))

    def _current_base(self) -> dict[str, str]:
        """Return the entries on disk now: ours when unchanged, else re-read (with the lock held)."""
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            logger.warning(
                "keystore %s disappeared since it was opened; writing it again", self._path
            )
            return dict(self._base)
        if _digest(data) == self._disk_digest:
            return dict(self._base)
        logger.info("keystore %s changed on disk since it was opened; merging", self._path)
        entries, _ = decode(
            io.BytesIO(data), self._master, where=str(self._path), known=self._cipher
        )
        return entries


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
