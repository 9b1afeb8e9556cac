"""The offline recovery key pair (X25519) that the escrow is encrypted to.

The public key is a PEM ``SubjectPublicKeyInfo``. A passphrase-protected private key (format 2,
written now) is a :mod:`backupctl.keys.sealed` container with magic ``BCTLRKEY`` in a text
armour (``-----BEGIN BACKUPCTL RECOVERY KEY-----``): the raw private key, AES-256-GCM under a
key derived from the passphrase with **Argon2id** (RFC 9106: 3 passes, 4 lanes, 64 MiB), its
header naming the parameters and the public key's fingerprint. A private key without passphrase
is an unencrypted PKCS#8 PEM. Format 1 files, PKCS#8 PEM encrypted by ``cryptography``'s
``BestAvailableEncryption`` (PBKDF2 at 2048 iterations), still open, with a warning.

A new passphrase must pass :func:`check_passphrase_strength` (docs/keystore.md). A process that
makes or opens a recovery private key forbids its own core dumps first.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import io
import logging
import math
import os
import string
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from backupctl.keys import process, sealed
from backupctl.keys.errors import EscrowError, WeakPassphrase
from backupctl.keys.secret import Secret

logger = logging.getLogger(__name__)

RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
ARMOUR_BEGIN = b"-----BEGIN BACKUPCTL RECOVERY KEY-----"
ARMOUR_END = b"-----END BACKUPCTL RECOVERY KEY-----"
MAX_KEY_FILE_BYTES = 64 * 1024
MIN_PASSPHRASE_LENGTH = 12
MIN_DISTINCT_CHARACTERS = 8
MIN_PASSPHRASE_BITS = 64
CHARACTER_CLASSES = (
    (frozenset(string.ascii_lowercase), 26),
    (frozenset(string.ascii_uppercase), 26),
    (frozenset(string.digits), 10),
)
OTHER_CLASS_SIZE = 33  # ASCII punctuation and space; anything else counts here too


@dataclasses.dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost: passes, lanes, memory in KiB (RFC 9106 second recommended option)."""

    iterations: int = 3
    lanes: int = 4
    memory_kib: int = 64 * 1024

    def is_sane(self) -> bool:
        """Return whether the parameters are in the bounds a forged header may not exceed."""
        values = dataclasses.astuple(self)
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            return False
        return (
            1 <= self.iterations <= 16
            and 1 <= self.lanes <= 16
            and 8 * 1024 <= self.memory_kib <= 1024 * 1024
        )


DEFAULT_ARGON2 = Argon2Params()


def fingerprint(public_key: X25519PublicKey) -> str:
    """Return ``sha256:<hex>`` of the raw public key, to match escrows with recovery keys."""
    return "sha256:" + hashlib.sha256(public_key.public_bytes(*RAW)).hexdigest()


def check_passphrase_strength(passphrase: Secret) -> None:
    """Raise WeakPassphrase unless the passphrase has at least 12 characters, 8 different ones,
    and an estimated 64 bits (length x log2 of the sizes of the character classes it uses).
    The message says which rule failed, never the passphrase."""
    text = passphrase.reveal()
    rule = (
        f"at least {MIN_PASSPHRASE_LENGTH} characters, {MIN_DISTINCT_CHARACTERS} different ones, "
        f"and about {MIN_PASSPHRASE_BITS} bits (e.g. 14 lower-case letters, or 12 characters "
        f"mixing letters, digits and punctuation; several words are best)"
    )
    if len(text) < MIN_PASSPHRASE_LENGTH:
        raise WeakPassphrase(f"the passphrase is too short; a recovery key needs {rule}")
    if len(set(text)) < MIN_DISTINCT_CHARACTERS:
        raise WeakPassphrase(
            f"the passphrase repeats too few characters; a recovery key needs {rule}"
        )
    if estimated_bits(text) < MIN_PASSPHRASE_BITS:
        raise WeakPassphrase(f"the passphrase is too guessable; a recovery key needs {rule}")


def estimated_bits(text: str) -> float:
    """Return length x log2(pool), the pool being the sizes of the character classes used."""
    used = set(text)
    pool = sum(size for members, size in CHARACTER_CLASSES if used & members)
    if any(not any(char in members for members, _ in CHARACTER_CLASSES) for char in used):
        pool += OTHER_CLASS_SIZE
    return len(text) * math.log2(pool) if pool > 1 else 0.0


def generate(
    passphrase: Secret | None, *, params: Argon2Params = DEFAULT_ARGON2
) -> tuple[bytes, bytes]:
    """Return (private key file bytes, public PEM) of a new recovery key; the private key is
    sealed under ``passphrase`` (raise WeakPassphrase when it is too weak), or plain PKCS#8."""
    if passphrase is not None:
        check_passphrase_strength(passphrase)
    process.forbid_core_dumps()
    private_key = X25519PrivateKey.generate()
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if passphrase is None:
        plain = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return plain, public_pem
    return _seal_private(private_key, passphrase, params), public_pem


def _seal_private(key: X25519PrivateKey, passphrase: Secret, params: Argon2Params) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    header = {
        "kind": "recovery-key",
        "kdf": {
            "id": "argon2id",
            "iterations": params.iterations,
            "lanes": params.lanes,
            "memory_kib": params.memory_kib,
            "salt": sealed.b64encode(salt),
        },
        "aead": {"id": "AES-256-GCM", "nonce": sealed.b64encode(nonce)},
        "public": fingerprint(key.public_key()),
    }
    wrapping = _argon2(passphrase, salt, params)
    data = sealed.seal(
        magic=sealed.RECOVERY_KEY_MAGIC,
        header=header,
        encrypt=lambda associated: AESGCM(wrapping).encrypt(nonce, raw, associated),
    )
    encoded = base64.b64encode(data)
    lines = [encoded[index : index + 64] for index in range(0, len(encoded), 64)]
    return b"\n".join([ARMOUR_BEGIN, *lines, ARMOUR_END]) + b"\n"


def _argon2(passphrase: Secret, salt: bytes, params: Argon2Params) -> bytes:
    return Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(passphrase.reveal().encode("utf-8"))


def load_public_key(data: bytes, *, where: str) -> X25519PublicKey:
    """Given PEM bytes, return the recovery public key; raise EscrowError when it is not one."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise EscrowError(f"{where} is not a PEM public key") from None
    if not isinstance(key, X25519PublicKey):
        raise EscrowError(f"{where} is not an X25519 recovery public key")
    return key


def load_private_key(
    data: bytes, *, where: str, passphrase: Callable[[], Secret] | None
) -> X25519PrivateKey:
    """Given the private key file's bytes, return the recovery private key, calling
    ``passphrase()`` only when the key is protected; raise EscrowError when it is not one, is
    damaged, or the passphrase is wrong."""
    process.forbid_core_dumps()
    if data.lstrip().startswith(ARMOUR_BEGIN):
        return _open_sealed(data, where=where, passphrase=_asked(passphrase, where))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # encrypted PKCS#8: format 1
        key = _open_pkcs8(data, where=where, passphrase=_asked(passphrase, where))
    except ValueError:
        raise EscrowError(f"{where} is not a PEM private key") from None
    if not isinstance(key, X25519PrivateKey):
        raise EscrowError(f"{where} is not an X25519 recovery private key")
    return key


def _asked(passphrase: Callable[[], Secret] | None, where: str) -> Callable[[], Secret]:
    if passphrase is None:
        raise EscrowError(f"{where} is passphrase-protected; give the passphrase")
    return passphrase


def _open_pkcs8(data: bytes, *, where: str, passphrase: Callable[[], Secret]) -> object:
    try:
        key = serialization.load_pem_private_key(data, password=passphrase().reveal().encode())
    except (ValueError, TypeError):
        raise EscrowError(f"{where}: wrong passphrase, or the key file is damaged") from None
    logger.warning(
        "recovery key %s uses the old protection (PBKDF2, 2048 iterations); make a new recovery "
        "key pair and a new escrow (docs/keystore.md)",
        where,
    )
    return key


def _open_sealed(data: bytes, *, where: str, passphrase: Callable[[], Secret]) -> X25519PrivateKey:
    container, salt, nonce, params = _parse_sealed(data, where=where)
    wrapping = _argon2(passphrase(), salt, params)
    try:
        raw = AESGCM(wrapping).decrypt(nonce, container.ciphertext, container.associated_data)
        key = X25519PrivateKey.from_private_bytes(raw)
    except (InvalidTag, ValueError):
        raise EscrowError(f"{where}: wrong passphrase (the key file is intact)") from None
    if fingerprint(key.public_key()) != container.header.get("public"):
        raise EscrowError(f"recovery key {where} is damaged (its fingerprint does not match)")
    return key


def _parse_sealed(
    data: bytes, *, where: str
) -> tuple[sealed.Container, bytes, bytes, Argon2Params]:
    try:
        return parse_armoured(data, magic=sealed.RECOVERY_KEY_MAGIC)
    except (binascii.Error, ValueError) as error:  # ContainerError is a ValueError
        detail = f" ({error})" if isinstance(error, sealed.ContainerError) else ""
        raise EscrowError(f"recovery key {where} is damaged{detail}") from None


def parse_armoured(
    data: bytes, *, magic: bytes
) -> tuple[sealed.Container, bytes, bytes, Argon2Params]:
    """Given an armoured, passphrase-sealed key file (Argon2id + AES-256-GCM: the recovery key,
    a staff signing key), return its container, salt, nonce and Argon2 parameters; raise
    binascii.Error or ValueError (sealed.ContainerError) when it is malformed."""
    body = b"".join(data.strip().splitlines()[1:-1])
    container = sealed.parse(io.BytesIO(base64.b64decode(body, validate=True)), magic=magic)
    header = container.header
    if sealed.header_field(header, "kdf", "id") != "argon2id":
        raise sealed.DamagedContainer("unsupported key derivation")
    if sealed.header_field(header, "aead", "id") != "AES-256-GCM":
        raise sealed.DamagedContainer("unsupported cipher")
    params = Argon2Params(
        *(sealed.header_field(header, "kdf", k) for k in ("iterations", "lanes", "memory_kib"))
    )
    if not params.is_sane():
        raise sealed.DamagedContainer("key derivation parameters out of range")
    salt = sealed.header_bytes_field(header, "kdf", "salt", size_range=(16, 64))
    nonce = sealed.header_bytes_field(header, "aead", "nonce", size_range=(12, 12))
    return container, salt, nonce, params
