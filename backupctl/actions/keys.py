"""Keystore actions: create, list, check, escrow to the recovery key, and recover from the escrow.

Every action takes plain values (paths, the master Secret, a passphrase callback), never click;
only :func:`master_for` reads the config. The CLI in backupctl/cli/keys_commands.py supplies them.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import io
import logging
import os
import pathlib
from collections.abc import Callable

from backupctl.config import Config
from backupctl.errors import RefusedError
from backupctl.keys import access, escrow, master_secret, recovery_key, securefile
from backupctl.keys.errors import EscrowError, KeystoreUnreadable, WrongMasterSecret
from backupctl.keys.secret import Secret
from backupctl.keys.store import Keystore

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class KeystoreSummary:
    path: pathlib.Path
    entry_count: int
    names: tuple[str, ...]
    format_version: int  # 1 is rewritten in format 2 on the next save
    kdf: str  # "hkdf-sha256" (random master key) or "scrypt" (passphrase)


@dataclasses.dataclass(frozen=True)
class RecoveryKeyFiles:
    private_key: pathlib.Path
    public_key: pathlib.Path
    fingerprint: str
    passphrase_protected: bool


@dataclasses.dataclass(frozen=True)
class EscrowResult:
    out: pathlib.Path
    entry_count: int
    recipient: str


@dataclasses.dataclass(frozen=True)
class RecoverResult:
    keystore_path: pathlib.Path
    entry_count: int
    kept_previous: pathlib.Path | None  # the replaced or damaged keystore, moved aside


def master_for(config: Config) -> Secret:
    """Given the config, return the master secret from the key file or command it names; raise
    ConfigError or KeysError."""
    return access.master_for(config)


def init_keystore(*, keystore_path: pathlib.Path, master: Secret) -> KeystoreSummary:
    """Create an empty keystore; raise AlreadyExists (exit 4) when one exists."""
    store = Keystore.create(keystore_path, master)
    return _summary(store)


def check_keystore(*, keystore_path: pathlib.Path, master: Secret) -> KeystoreSummary:
    """Open the keystore and return its entry names and count; raise KeysError telling a
    missing file, a file that is not a keystore, a damaged one and a wrong master secret apart."""
    return _summary(Keystore.open(keystore_path, master))


def generate_master_key(*, path: pathlib.Path) -> pathlib.Path:
    master_secret.generate_master_key_file(path)
    return path


def generate_recovery_key(
    *, private_out: pathlib.Path, public_out: pathlib.Path, passphrase: Secret | None
) -> RecoveryKeyFiles:
    """Write a new recovery key pair (private 0600, public 0644); refuse existing files and a
    passphrase weaker than the documented rule (WeakPassphrase)."""
    for path in (private_out, public_out):
        if path.exists() or path.is_symlink():
            raise RefusedError(f"{path} already exists; refusing to overwrite it")
    private_data, public_pem = recovery_key.generate(passphrase)
    _write(securefile.write_new, private_out, private_data, mode=0o600)
    _write(securefile.write_new, public_out, public_pem, mode=0o644)
    public_key = recovery_key.load_public_key(public_pem, where=str(public_out))
    return RecoveryKeyFiles(
        private_out, public_out, recovery_key.fingerprint(public_key), bool(passphrase)
    )


def write_escrow(
    *,
    keystore_path: pathlib.Path,
    master: Secret,
    public_key_file: pathlib.Path,
    out: pathlib.Path,
    force: bool = False,
    now: datetime.datetime | None = None,
) -> EscrowResult:
    """Encrypt the keystore's entries to the recovery public key and write them to ``out``
    atomically (0600); refuse to replace ``out`` unless ``force``, and always refuse (UnsafeFile)
    when ``out`` is not a regular file (a device, FIFO, directory or symlink)."""
    recipient = recovery_key.load_public_key(
        _read(public_key_file, limit=recovery_key.MAX_KEY_FILE_BYTES, what="recovery public key"),
        where=str(public_key_file),
    )
    store = Keystore.open(keystore_path, master)
    if (out.exists() or out.is_symlink()) and not force:
        raise RefusedError(f"escrow file {out} already exists; use --force to replace it")
    created = (now or datetime.datetime.now(datetime.UTC)).isoformat(timespec="seconds")
    entries = store.entries()
    _write(
        functools.partial(securefile.write_atomic, what="escrow file"),
        out,
        escrow.seal_entries(entries, recipient, created=created),
        mode=0o600,
    )
    logger.info("wrote escrow %s with %d entries", out, len(entries))
    return EscrowResult(out, len(entries), recovery_key.fingerprint(recipient))


def recover(
    *,
    keystore_path: pathlib.Path,
    master: Secret,
    escrow_file: pathlib.Path,
    private_key_file: pathlib.Path,
    passphrase: Callable[[], Secret] | None,
    force: bool = False,
    now: datetime.datetime | None = None,
) -> RecoverResult:
    """Write a keystore at ``keystore_path`` with the escrow's entries, encrypted with ``master``.

    The escrow is decrypted before anything is touched. An existing keystore is replaced only
    with ``force``, and then kept as ``<path>.replaced-<time>`` (readable),
    ``<path>.other-secret-<time>`` (intact, another master secret) or ``<path>.damaged-<time>``;
    raise RefusedError without ``force``.
    """
    private_key = recovery_key.load_private_key(
        _read(private_key_file, limit=recovery_key.MAX_KEY_FILE_BYTES, what="recovery key"),
        where=str(private_key_file),
        passphrase=passphrase,
    )
    escrow_data = _read(escrow_file, limit=escrow.MAX_ESCROW_BYTES, what="escrow file")
    entries = escrow.open_entries(io.BytesIO(escrow_data), private_key, where=str(escrow_file))
    kept = None
    if keystore_path.exists() or keystore_path.is_symlink():
        kept = _keep_existing(keystore_path, master, force=force, now=now)
    Keystore.create(keystore_path, master, entries=entries, replace_existing=kept is not None)
    reopened = Keystore.open(keystore_path, master)
    if reopened.names() != sorted(entries):  # pragma: no cover - a defect, not an expected failure
        raise RuntimeError("the recovered keystore does not hold the escrow's entries")
    logger.warning(
        "recovered keystore %s from escrow %s (%d entries)",
        keystore_path,
        escrow_file,
        len(entries),
    )
    return RecoverResult(keystore_path, len(entries), kept)


def _keep_existing(
    path: pathlib.Path, master: Secret, *, force: bool, now: datetime.datetime | None
) -> pathlib.Path:
    """Given an existing keystore, refuse without ``force``; else hard-link it aside and return
    the new name (the original stays in place until the atomic replacement)."""
    try:
        Keystore.open(path, master)
        state, problem = "replaced", "exists and opens with the current master secret"
    except WrongMasterSecret:
        state, problem = (
            "other-secret",
            (
                "is intact but sealed with another master secret (if the master secret changed "
                "by mistake, restore it instead of recovering)"
            ),
        )
    except KeystoreUnreadable:
        state, problem = (
            "damaged",
            "exists but cannot be opened (damaged, not a keystore, or format 1 of another secret)",
        )
    if not force:
        raise RefusedError(
            f"keystore {path} {problem}; refusing to overwrite it. With --force it is kept as "
            f"{path.name}.{state}-<time> and replaced by the recovered keystore"
        )
    stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(100):
        suffix = f"-{attempt}" if attempt else ""
        kept = path.with_name(f"{path.name}.{state}-{stamp}{suffix}")
        try:
            os.link(path, kept, follow_symlinks=False)
            return kept
        except FileExistsError:
            continue
    raise RefusedError(f"cannot find a free name to keep {path} aside")


def _read(path: pathlib.Path, *, limit: int, what: str) -> bytes:
    """Given a path, return its bytes (a regular file within ``limit``, never via a symlink);
    raise UnsafeFile or EscrowError."""
    try:
        return securefile.read_bounded(path, limit=limit, what=what)
    except OSError as error:
        raise EscrowError(f"{what} {path} cannot be read: {error.strerror}") from None


def _write(writer, path: pathlib.Path, data: bytes, *, mode: int) -> None:
    try:
        writer(path, data, mode=mode)
    except OSError as error:
        raise EscrowError(f"{path} cannot be written: {error.strerror}") from None


def _summary(store: Keystore) -> KeystoreSummary:
    names = tuple(store.names())
    return KeystoreSummary(store.path, len(names), names, store.format_version, store.kdf_id)
