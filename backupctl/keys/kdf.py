"""Key derivation for the keystore: HKDF for a random master key, scrypt for a passphrase.

The form of the master secret decides (docs/keystore.md, "Master secret sources"): exactly
44 characters of standard base64 that decode to 32 bytes (what ``backupctl keys master-keygen``
and ``openssl rand -base64 32`` write) is a **random key**, already 256 bits of entropy, so
HKDF-SHA256 is enough and costs microseconds. Anything else is a **passphrase** (for instance from
a ``master_key_command``) and goes through memory-hard scrypt. Every derivation first calls
:func:`backupctl.keys.process.forbid_core_dumps`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from backupctl.keys import process
from backupctl.keys.secret import Secret

HKDF_ID = "hkdf-sha256"
SCRYPT_ID = "scrypt"
RANDOM_KEY_BYTES = 32
_HKDF_INFO = b"backupctl keystore master key"


class NotARandomKey(ValueError):
    """The keystore was sealed with a random master key, but this secret is a passphrase."""


@dataclasses.dataclass(frozen=True)
class ScryptParams:
    """scrypt cost parameters; the defaults cost about 32 MiB and 0.1 s per derivation."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    def is_sane(self) -> bool:
        """Return whether the parameters are in the bounds a forged header may not exceed."""
        values = dataclasses.astuple(self)
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            return False
        power_of_two = self.n > 1 and self.n & (self.n - 1) == 0
        return power_of_two and 2**10 <= self.n <= 2**18 and 1 <= self.r <= 32 and 1 <= self.p <= 16


@dataclasses.dataclass(frozen=True)
class KdfSpec:
    """How a keystore's key is derived: ``kdf_id`` (HKDF_ID or SCRYPT_ID), salt, scrypt cost."""

    kdf_id: str
    salt: bytes
    scrypt: ScryptParams | None = None


def random_key_bytes(master: Secret) -> bytes | None:
    """Given the master secret, return its 32 bytes when it is a random key (base64, 44
    characters), else None."""
    text = master.reveal()
    if len(text) != 44:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == RANDOM_KEY_BYTES else None


def spec_for(master: Secret, *, scrypt: ScryptParams) -> KdfSpec:
    """Given the master secret, return a new KdfSpec (fresh salt) that suits its form."""
    salt = os.urandom(16)
    if random_key_bytes(master) is not None:
        return KdfSpec(HKDF_ID, salt)
    return KdfSpec(SCRYPT_ID, salt, scrypt)


def derive_root(master: Secret, spec: KdfSpec) -> bytes:
    """Given the master secret and a KdfSpec, return the 32-byte root key; raise NotARandomKey
    when the spec is HKDF and the secret is not a random key."""
    process.forbid_core_dumps()
    if spec.kdf_id == HKDF_ID:
        raw = random_key_bytes(master)
        if raw is None:
            raise NotARandomKey("the master secret is not a random key")
        return HKDF(hashes.SHA256(), length=32, salt=spec.salt, info=_HKDF_INFO).derive(raw)
    params = spec.scrypt or ScryptParams()
    return Scrypt(salt=spec.salt, length=32, n=params.n, r=params.r, p=params.p).derive(
        master.reveal().encode("utf-8")
    )


def subkey(root: bytes, purpose: bytes, *, length: int = 32) -> bytes:
    """Given a root key and a purpose label, return an independent subkey (HKDF-Expand)."""
    return HKDFExpand(
        hashes.SHA256(), length=length, info=b"backupctl keystore v2 " + purpose
    ).derive(root)
