"""The escrow: the keystore's entries encrypted to an offline X25519 recovery public key.

Hybrid encryption: a fresh ephemeral X25519 key pair per escrow, the shared secret with the
recipient's public key through HKDF-SHA256 (salt = ephemeral public || recipient public), then
AES-256-GCM with the whole header as associated data. The file is a :mod:`backupctl.keys.sealed`
container with magic ``BCTLESCR``. It holds the entries, never the master secret; only the
holder of the recovery private key (:mod:`backupctl.keys.recovery_key`, kept offline) can open it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backupctl.keys import sealed
from backupctl.keys.errors import EscrowError
from backupctl.keys.recovery_key import RAW, fingerprint
from backupctl.keys.secret import Secret

KEM_ID = "X25519-HKDF-SHA256"
HKDF_INFO = b"backupctl escrow v1"
MAX_ESCROW_BYTES = 16 * 1024 * 1024


def _derive(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=HKDF_INFO
    ).derive(shared)


def seal_entries(
    entries: Mapping[str, Secret], recipient: X25519PublicKey, *, created: str
) -> bytes:
    """Given entries and the recovery public key, return the escrow file bytes."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = ephemeral.public_key().public_bytes(*RAW)
    key = _derive(ephemeral.exchange(recipient), ephemeral_raw, recipient.public_bytes(*RAW))
    nonce = os.urandom(12)
    payload = json.dumps(
        {"entries": {name: value.reveal() for name, value in entries.items()}, "format": 1},
        sort_keys=True,
    ).encode("ascii")
    header = {
        "kind": "escrow",
        "kem": KEM_ID,
        "created": created,
        "entry_count": len(entries),
        "recipient": fingerprint(recipient),
        "ephemeral_public": sealed.b64encode(ephemeral_raw),
        "aead": {"id": "AES-256-GCM", "nonce": sealed.b64encode(nonce)},
    }
    return sealed.seal(
        magic=sealed.ESCROW_MAGIC,
        header=header,
        encrypt=lambda associated: AESGCM(key).encrypt(nonce, payload, associated),
    )


def read_header(stream: BinaryIO, *, where: str) -> sealed.Container:
    """Given an escrow file object, return its parsed container; raise EscrowError."""
    try:
        container = sealed.parse(stream, magic=sealed.ESCROW_MAGIC)
        if sealed.header_field(container.header, "kind") != "escrow":
            raise sealed.DamagedContainer("header kind is not escrow")
        if sealed.header_field(container.header, "kem") != KEM_ID:
            raise sealed.DamagedContainer("unsupported key agreement")
        if sealed.header_field(container.header, "aead", "id") != "AES-256-GCM":
            raise sealed.DamagedContainer("unsupported cipher")
    except sealed.NotThisFormat:
        raise EscrowError(f"{where} is not a backupctl escrow file") from None
    except sealed.DamagedContainer as error:
        raise EscrowError(
            f"escrow {where} is damaged or from a newer backupctl ({error})"
        ) from None
    return container


def open_entries(
    stream: BinaryIO, private_key: X25519PrivateKey, *, where: str
) -> dict[str, Secret]:
    """Given an escrow file object and the recovery private key, return the entries; raise
    EscrowError when the key is not the one the escrow was made for, or the file is damaged."""
    container = read_header(stream, where=where)
    header = container.header
    recipient_raw = private_key.public_key().public_bytes(*RAW)
    ours = fingerprint(private_key.public_key())
    if header.get("recipient") != ours:
        raise EscrowError(
            f"escrow {where} was made for recovery key {header.get('recipient')}, but the private "
            f"key given is {ours}: wrong recovery private key"
        )
    try:
        ephemeral_raw = sealed.header_bytes_field(header, "ephemeral_public", size_range=(32, 32))
        nonce = sealed.header_bytes_field(header, "aead", "nonce", size_range=(12, 12))
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
        key = _derive(shared, ephemeral_raw, recipient_raw)
        payload = AESGCM(key).decrypt(nonce, container.ciphertext, container.associated_data)
        entries = json.loads(payload.decode("ascii"))["entries"]
    except (sealed.DamagedContainer, InvalidTag, ValueError, KeyError, TypeError):
        raise EscrowError(f"escrow {where} cannot be decrypted: the file is damaged") from None
    if not isinstance(entries, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in entries.items()
    ):
        raise EscrowError(f"escrow {where} decrypted, but its content is malformed")
    return {name: Secret(value) for name, value in entries.items()}
