"""The keystore file format: a :mod:`backupctl.keys.sealed` container with magic ``BCTLKEYS``.

Format 2 (written now): the header names the KDF (``hkdf-sha256`` for a random master key,
``scrypt`` for a passphrase; :mod:`backupctl.keys.kdf`), a 16-byte **key check** derived from the
key, and the AEAD (AES-256-GCM with its nonce); the container ends with a SHA-256 of the whole
file. So a decode tells three failures apart: the checksum fails (**damaged**), the key check
differs (**wrong master secret**, file intact), or authentication fails although both match
(**damaged**, deliberately altered). Format 1 (read only) has scrypt, no key check and no
checksum: there a failed authentication cannot tell a wrong secret from damage.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
from collections.abc import Mapping
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backupctl.keys import kdf, sealed
from backupctl.keys.errors import (
    KeysError,
    KeystoreDamaged,
    KeystoreUnreadable,
    WrongMasterSecret,
)
from backupctl.keys.secret import Secret

FORMAT = 2
MAX_KEYSTORE_BYTES = 16 * 1024 * 1024
RECOVERY_HINT = "see docs/keystore.md, 'Recovering a lost or damaged keystore'"
WRONG_SECRET_HINT = (
    "fix master_key_file or master_key_command (a changed command, an old key file); "
    "the keystore itself needs no recovery"
)
DEFAULT_SCRYPT = kdf.ScryptParams()
KEY_CHECK_BYTES = 16


@dataclasses.dataclass(frozen=True)
class Cipher:
    """The keys of one keystore file: its format, KDF, AEAD key and key check (format 2)."""

    version: int
    spec: kdf.KdfSpec
    aead_key: bytes
    key_check: bytes | None

    def __repr__(self) -> str:
        return f"Cipher(version={self.version}, kdf={self.spec.kdf_id!r})"


def new_cipher(master: Secret) -> Cipher:
    """Given the master secret, return a format 2 cipher with a fresh salt and the KDF its form
    calls for."""
    return _cipher(master, kdf.spec_for(master, scrypt=DEFAULT_SCRYPT), version=FORMAT)


def _cipher(master: Secret, spec: kdf.KdfSpec, *, version: int) -> Cipher:
    root = kdf.derive_root(master, spec)
    if version == 1:
        return Cipher(1, spec, root, None)
    check = kdf.subkey(root, b"key check", length=KEY_CHECK_BYTES)
    return Cipher(version, spec, kdf.subkey(root, b"aead"), check)


def encode(entries: Mapping[str, str], cipher: Cipher, *, where: str) -> bytes:
    """Given plain entries and a format 2 cipher, return the keystore file bytes (fresh random
    nonce); raise KeysError when they would exceed MAX_KEYSTORE_BYTES."""
    if cipher.version != FORMAT or cipher.key_check is None:
        raise ValueError("keystores are written in format 2 only")
    payload = json.dumps({"entries": dict(entries), "format": 1}, sort_keys=True).encode("ascii")
    nonce = os.urandom(12)
    header = {
        "kind": "keystore",
        "kdf": _kdf_header(cipher.spec),
        "key_check": sealed.b64encode(cipher.key_check),
        "aead": {"id": "AES-256-GCM", "nonce": sealed.b64encode(nonce)},
    }
    data = sealed.seal(
        magic=sealed.KEYSTORE_MAGIC,
        header=header,
        encrypt=lambda associated: AESGCM(cipher.aead_key).encrypt(nonce, payload, associated),
    )
    if len(data) > MAX_KEYSTORE_BYTES:
        raise KeysError(
            f"keystore {where} would be larger than {MAX_KEYSTORE_BYTES // 2**20} MiB; not saved"
        )
    return data


def _kdf_header(spec: kdf.KdfSpec) -> dict:
    header = {"id": spec.kdf_id, "salt": sealed.b64encode(spec.salt)}
    if spec.kdf_id == kdf.SCRYPT_ID:
        params = spec.scrypt or DEFAULT_SCRYPT
        header.update(n=params.n, r=params.r, p=params.p)
    return header


def decode(
    stream: BinaryIO, master: Secret, *, where: str, known: Cipher | None = None
) -> tuple[dict[str, str], Cipher]:
    """Given a keystore file object, return its entries and cipher (``known`` is reused when the
    file has the same format and KDF); raise KeystoreUnreadable (not a keystore),
    KeystoreDamaged or WrongMasterSecret."""
    container, spec, nonce, key_check = _parse(stream, where=where)
    cipher = known if known and (known.version, known.spec) == (container.version, spec) else None
    if cipher is None:
        cipher = _derive_for(master, spec, version=container.version, where=where)
    if key_check is not None and not hmac.compare_digest(key_check, cipher.key_check or b""):
        raise WrongMasterSecret(_wrong_secret(where, "it does not match the header's key check"))
    try:
        plain = AESGCM(cipher.aead_key).decrypt(
            nonce, container.ciphertext, container.associated_data
        )
    except InvalidTag:
        raise _authentication_failed(where, container.version) from None
    return _entries_from_payload(plain, where=where), cipher


def _parse(
    stream: BinaryIO, *, where: str
) -> tuple[sealed.Container, kdf.KdfSpec, bytes, bytes | None]:
    try:
        container = sealed.parse(stream, magic=sealed.KEYSTORE_MAGIC)
        spec, nonce, key_check = _header_parameters(container)
    except sealed.NotThisFormat:
        raise KeystoreUnreadable(
            f"{where} is not a backupctl keystore (unrecognised file format); it was left untouched"
        ) from None
    except sealed.DamagedContainer as error:
        raise KeystoreDamaged(
            f"keystore {where} is damaged ({error}); it was left untouched; {RECOVERY_HINT}"
        ) from None
    return container, spec, nonce, key_check


def _derive_for(master: Secret, spec: kdf.KdfSpec, *, version: int, where: str) -> Cipher:
    try:
        return _cipher(master, spec, version=version)
    except kdf.NotARandomKey:
        raise WrongMasterSecret(
            _wrong_secret(
                where,
                "the keystore was sealed with a random master key (keys master-keygen) and the "
                "configured secret is not one",
            )
        ) from None


def _wrong_secret(where: str, reason: str) -> str:
    return (
        f"keystore {where} is intact, but the master secret is wrong ({reason}); it was left "
        f"untouched; {WRONG_SECRET_HINT}"
    )


def _authentication_failed(where: str, version: int) -> KeystoreUnreadable:
    if version >= 2:
        return KeystoreDamaged(
            f"keystore {where} is damaged: its checksum and key check match, but authentication "
            f"failed (altered on purpose?); it was left untouched; {RECOVERY_HINT}"
        )
    return KeystoreUnreadable(
        f"keystore {where} cannot be decrypted: the master secret is wrong or the file is "
        f"damaged (a format 1 keystore cannot tell which); it was left untouched; {RECOVERY_HINT}"
    )


def _header_parameters(container: sealed.Container) -> tuple[kdf.KdfSpec, bytes, bytes | None]:
    header = container.header
    if sealed.header_field(header, "kind") != "keystore":
        raise sealed.DamagedContainer("header kind is not keystore")
    if sealed.header_field(header, "aead", "id") != "AES-256-GCM":
        raise sealed.DamagedContainer("unsupported cipher")
    spec = _kdf_spec(header, version=container.version)
    nonce = sealed.header_bytes_field(header, "aead", "nonce", size_range=(12, 12))
    if container.version == 1:
        if "key_check" in header:
            raise sealed.DamagedContainer("format 1 with a format 2 header")
        return spec, nonce, None
    size = (KEY_CHECK_BYTES, KEY_CHECK_BYTES)
    return spec, nonce, sealed.header_bytes_field(header, "key_check", size_range=size)


def _kdf_spec(header: dict, *, version: int) -> kdf.KdfSpec:
    kdf_id = sealed.header_field(header, "kdf", "id")
    salt = sealed.header_bytes_field(header, "kdf", "salt", size_range=(16, 64))
    if kdf_id == kdf.HKDF_ID and version >= 2:
        return kdf.KdfSpec(kdf.HKDF_ID, salt)
    if kdf_id != kdf.SCRYPT_ID:
        raise sealed.DamagedContainer("unsupported key derivation")
    params = kdf.ScryptParams(*(sealed.header_field(header, "kdf", key) for key in ("n", "r", "p")))
    if not params.is_sane():
        raise sealed.DamagedContainer("key derivation parameters out of range")
    return kdf.KdfSpec(kdf.SCRYPT_ID, salt, params)


def _entries_from_payload(payload: bytes, *, where: str) -> dict[str, str]:
    try:
        entries = json.loads(payload.decode("ascii"))["entries"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        entries = None
    if not isinstance(entries, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in entries.items()
    ):
        raise KeystoreDamaged(
            f"keystore {where} decrypted, but its content is malformed; {RECOVERY_HINT}"
        )
    return entries
