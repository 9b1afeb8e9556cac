"""Personal Ed25519 signing keys of staff: restore requests and approvals are signed with them.

The private key file is a :mod:`backupctl.keys.sealed` container (magic ``BCTLSIGN``) in a text
armour: the 32 raw private bytes under AES-256-GCM with a key derived from the staff member's
passphrase by **Argon2id** (the recovery key's parameters, RFC 9106), its header naming the
account and the public key's fingerprint. Nobody, root included, can sign without the passphrase.

The public half travels as one line: ``backupctl-ed25519 <base64 raw key> <account>``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from backupctl.errors import BackupctlError, ExitCode
from backupctl.keys import process, sealed
from backupctl.keys.recovery_key import (
    DEFAULT_ARGON2,
    Argon2Params,
    check_passphrase_strength,
    parse_armoured,
)
from backupctl.keys.secret import Secret

MAGIC = b"BCTLSIGN"
ARMOUR_BEGIN = b"-----BEGIN BACKUPCTL SIGNING KEY-----"
ARMOUR_END = b"-----END BACKUPCTL SIGNING KEY-----"
PUBLIC_PREFIX = "backupctl-ed25519"
MAX_KEY_FILE_BYTES = 16 * 1024
RAW_PUBLIC = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SigningKeyError(BackupctlError):
    """A signing key file or public key is unusable, or the passphrase is wrong."""

    exit_code = ExitCode.REFUSED


@dataclasses.dataclass(frozen=True)
class PublicKey:
    """A staff member's public key: the account it was made for and the 32 raw bytes."""

    account: str
    raw: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    def line(self) -> str:
        return f"{PUBLIC_PREFIX} {base64.b64encode(self.raw).decode()} {self.account}\n"


def fingerprint(raw_public: bytes) -> str:
    """Given a raw Ed25519 public key, return ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(raw_public).hexdigest()


def generate(
    account: str, passphrase: Secret, *, params: Argon2Params = DEFAULT_ARGON2
) -> tuple[bytes, PublicKey]:
    """Given the account and its passphrase, return (private key file bytes, public key); raise
    WeakPassphrase when the passphrase is too weak."""
    check_passphrase_strength(passphrase)
    process.forbid_core_dumps()
    key = Ed25519PrivateKey.generate()
    public = PublicKey(account, key.public_key().public_bytes(*RAW_PUBLIC))
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    salt, nonce = os.urandom(16), os.urandom(12)
    header = {
        "kind": "signing-key",
        "account": account,
        "kdf": {
            "id": "argon2id",
            "iterations": params.iterations,
            "lanes": params.lanes,
            "memory_kib": params.memory_kib,
            "salt": sealed.b64encode(salt),
        },
        "aead": {"id": "AES-256-GCM", "nonce": sealed.b64encode(nonce)},
        "public": public.fingerprint,
    }
    wrapping = _argon2(passphrase, salt, params)
    data = sealed.seal(
        magic=MAGIC,
        header=header,
        encrypt=lambda associated: AESGCM(wrapping).encrypt(nonce, raw, associated),
    )
    encoded = base64.b64encode(data)
    lines = [encoded[index : index + 64] for index in range(0, len(encoded), 64)]
    return b"\n".join([ARMOUR_BEGIN, *lines, ARMOUR_END]) + b"\n", public


def _argon2(passphrase: Secret, salt: bytes, params: Argon2Params) -> bytes:
    return Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(passphrase.reveal().encode("utf-8"))


def open_private(data: bytes, passphrase: Secret, *, where: str) -> Ed25519PrivateKey:
    """Given a key file's bytes and the passphrase, return the private key; raise SigningKeyError
    when the file is not a signing key, is damaged, or the passphrase is wrong."""
    process.forbid_core_dumps()
    container, salt, nonce, params = _parse(data, where=where)
    wrapping = _argon2(passphrase, salt, params)
    try:
        raw = AESGCM(wrapping).decrypt(nonce, container.ciphertext, container.associated_data)
        key = Ed25519PrivateKey.from_private_bytes(raw)
    except (InvalidTag, ValueError):
        raise SigningKeyError(f"signing key {where}: wrong passphrase") from None
    public_raw = key.public_key().public_bytes(*RAW_PUBLIC)
    if fingerprint(public_raw) != container.header.get("public"):
        raise SigningKeyError(f"signing key {where} is damaged (its fingerprint does not match)")
    return key


def _parse(data: bytes, *, where: str) -> tuple[sealed.Container, bytes, bytes, Argon2Params]:
    if not data.lstrip().startswith(ARMOUR_BEGIN):
        raise SigningKeyError(f"{where} is not a backupctl signing key")
    try:
        return parse_armoured(data, magic=MAGIC)
    except (binascii.Error, ValueError) as error:  # ContainerError is a ValueError
        detail = f" ({error})" if isinstance(error, sealed.ContainerError) else ""
        raise SigningKeyError(f"signing key {where} is damaged{detail}") from None


def parse_public(text: str, *, where: str) -> PublicKey:
    """Given a public key line, return the PublicKey; raise SigningKeyError when malformed."""
    parts = text.strip().split()
    if len(parts) != 3 or parts[0] != PUBLIC_PREFIX:
        raise SigningKeyError(f"{where}: expected '{PUBLIC_PREFIX} <base64 key> <account>'")
    try:
        raw = base64.b64decode(parts[1], validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{where}: not an Ed25519 public key") from None
    return PublicKey(parts[2], raw)


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Given a private key and bytes, return the base64 signature."""
    return base64.b64encode(key.sign(message)).decode()


def public_of(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(*RAW_PUBLIC)


def verify(raw_public: bytes, message: bytes, signature: str) -> bool:
    """Given a raw public key, bytes and a base64 signature, return whether it is valid."""
    try:
        Ed25519PublicKey.from_public_bytes(raw_public).verify(
            base64.b64decode(signature, validate=True), message
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
