"""restic key files, bytes in and out: open one with the repository password, make one.

A key file (repository ``keys/<id>``, the id the SHA-256 of its bytes) is JSON: ``created``,
``username``, ``hostname``, ``kdf`` ("scrypt"), ``N``, ``r``, ``p``, ``salt`` (64 bytes) and
``data`` (both base64). scrypt(password, salt, N, r, p) gives 64 bytes: an AES-256 key, then the
MAC key as k (16, AES-128) || r (16, Poly1305). ``data`` is IV (16) || AES-256-CTR ciphertext ||
Poly1305-AES MAC (16) over the ciphertext, keyed r || AES-128_k(IV), and the plaintext is the
repository's master key, JSON ``{"mac": {"k", "r"}, "encrypt"}`` (restic doc/design.rst "Keys,
Encryption and MAC"; internal/repository/key.go, internal/crypto/crypto.go and kdf.go).

restic calibrates a new key's scrypt parameters to take about half a second, to stretch a human
password. For a password of 256 random bits that stretching protects nothing, so backupctl adds a
second key holding the same master key with ``CHEAP`` parameters (docs/keystore.md, "The
repository's fast key"). A key file read from a location is not trusted: its size and its scrypt
parameters are bounded before any derivation.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib
import hmac
import json
import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backupctl.errors import BackupctlError

MAX_KEY_FILE_BYTES = 64 * 1024
SALT_BYTES = 64
IV_BYTES = 16
MAC_BYTES = 16
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024  # 128 * r * N bytes: restic's calibration stays at 60 MiB
MAX_SCRYPT_WORK = 2**25  # N * r * p: a few seconds at most, restic's calibration is near 2**21
# restic's poly1305KeyMask (the Poly1305 clamp of r)
_R_MASK = bytes.fromhex("ffffff0ffcffff0ffcffff0ffcffff0f")


class KeyFileError(BackupctlError):
    """Not a restic key file backupctl can open (malformed, or parameters beyond the bounds)."""


class WrongPassword(KeyFileError):
    """The password does not open this key file (or the file was altered)."""


@dataclasses.dataclass(frozen=True)
class KdfParams:
    """scrypt's cost parameters as a key file stores them."""

    n: int
    r: int
    p: int


# N = 2**10, r = 8, p = 1: 1 MiB and about a millisecond. restic (0.14 to 0.18) checks only that
# N is an even power of two above 1 and r, p at least 1 (simple-scrypt Params.Check, Go scrypt).
CHEAP = KdfParams(n=2**10, r=8, p=1)


class MasterKey:
    """A repository's master key: the exact JSON plaintext a key file holds (never printed)."""

    __slots__ = ("_plaintext",)

    def __init__(self, plaintext: bytes) -> None:
        _check_master(plaintext)
        self._plaintext = plaintext

    def reveal(self) -> bytes:
        return self._plaintext

    def __repr__(self) -> str:
        return "MasterKey(**redacted**)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MasterKey) and hmac.compare_digest(
            self._plaintext, other._plaintext
        )

    def __hash__(self) -> int:  # pragma: no cover - never put in a set
        raise TypeError("a master key is not hashable")

    def __reduce__(self) -> object:
        raise TypeError("a master key cannot be pickled")


def key_id(data: bytes) -> str:
    """Given a key file's bytes, return its id (its name under ``keys/``)."""
    return hashlib.sha256(data).hexdigest()


def params_of(data: bytes) -> KdfParams:
    """Given a key file's bytes, return its scrypt parameters; raise KeyFileError when it is not
    a key file or its parameters are beyond the bounds."""
    return _parse(data)[0]


def open_key(data: bytes, password: str) -> MasterKey:
    """Given a key file's bytes and the repository password, return the master key it holds;
    raise WrongPassword when the MAC does not match, KeyFileError when it is not a key file."""
    params, salt, sealed = _parse(data)
    encryption, mac_k, mac_r = _user_key(password, salt, params)
    iv, ciphertext, tag = sealed[:IV_BYTES], sealed[IV_BYTES:-MAC_BYTES], sealed[-MAC_BYTES:]
    try:
        poly1305.Poly1305.verify_tag(_mac_key(mac_k, mac_r, iv), ciphertext, tag)
    except InvalidSignature:
        raise WrongPassword("the password does not open this key file") from None
    return MasterKey(_ctr(encryption, iv, ciphertext))


def make_key(
    master: MasterKey,
    password: str,
    params: KdfParams = CHEAP,
    *,
    created: datetime.datetime,
    username: str,
    hostname: str,
    salt: bytes | None = None,
    iv: bytes | None = None,
) -> bytes:
    """Given a master key, the password and scrypt parameters, return the bytes of a key file
    restic opens with that password (``salt`` and ``iv`` random unless given, for tests)."""
    _check_params(params)
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    iv = os.urandom(IV_BYTES) if iv is None else iv
    if len(salt) != SALT_BYTES or len(iv) != IV_BYTES or not any(iv):
        raise ValueError("a key file needs a 64-byte salt and a non-zero 16-byte IV")
    encryption, mac_k, mac_r = _user_key(password, salt, params)
    ciphertext = _ctr(encryption, iv, master.reveal())
    tag = poly1305.Poly1305.generate_tag(_mac_key(mac_k, mac_r, iv), ciphertext)
    document = {
        "created": created.astimezone(datetime.UTC).isoformat(),
        "username": username,
        "hostname": hostname,
        "kdf": "scrypt",
        "N": params.n,
        "r": params.r,
        "p": params.p,
        "salt": _b64(salt),
        "data": _b64(iv + ciphertext + tag),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _parse(data: bytes) -> tuple[KdfParams, bytes, bytes]:
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"a key file of {len(data)} bytes is larger than any restic makes")
    try:
        document = json.loads(data)
        if document["kdf"] != "scrypt":
            raise KeyFileError(f"key file KDF {str(document['kdf'])[:40]!r} is not scrypt")
        params = KdfParams(n=document["N"], r=document["r"], p=document["p"])
        salt = base64.b64decode(document["salt"], validate=True)
        sealed = base64.b64decode(document["data"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise KeyFileError(f"not a restic key file: {type(error).__name__}") from None
    _check_params(params)
    if len(salt) != SALT_BYTES or len(sealed) < IV_BYTES + MAC_BYTES:
        raise KeyFileError("not a restic key file: salt or data of the wrong length")
    return params, salt, sealed


def _check_params(params: KdfParams) -> None:
    """Raise KeyFileError unless restic accepts the parameters and they are within our bounds
    (a location could offer a key file that asks for gigabytes of memory)."""
    n, r, p = params.n, params.r, params.p
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (n, r, p)):
        raise KeyFileError("scrypt parameters are not integers")
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        raise KeyFileError(f"scrypt parameters N={n} r={r} p={p} are not valid")
    if 128 * r * n > MAX_SCRYPT_MEMORY or n * r * p > MAX_SCRYPT_WORK:
        raise KeyFileError(f"scrypt parameters N={n} r={r} p={p} are beyond the bounds")


def _user_key(password: str, salt: bytes, params: KdfParams) -> tuple[bytes, bytes, bytes]:
    try:
        derived = hashlib.scrypt(
            password.encode(),
            salt=salt,
            n=params.n,
            r=params.r,
            p=params.p,
            maxmem=MAX_SCRYPT_MEMORY + 128 * params.r * (params.p + 2) + 1024 * 1024,
            dklen=64,
        )
    except (ValueError, MemoryError):  # OpenSSL refused the parameters after all
        raise KeyFileError(
            f"scrypt cannot run with N={params.n} r={params.r} p={params.p}"
        ) from None
    return derived[:32], derived[32:48], derived[48:64]


def _mac_key(mac_k: bytes, mac_r: bytes, iv: bytes) -> bytes:
    """restic's poly1305PrepareKey: the masked r, then AES-128_k of the nonce."""
    masked = bytes(a & b for a, b in zip(mac_r, _R_MASK, strict=True))
    encryptor = Cipher(algorithms.AES(mac_k), modes.ECB()).encryptor()  # noqa: S305 - one block
    return masked + encryptor.update(iv) + encryptor.finalize()


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    transform = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return transform.update(data) + transform.finalize()


def _check_master(plaintext: bytes) -> None:
    """Raise KeyFileError unless the plaintext is a master key restic would accept."""
    try:
        document = json.loads(plaintext)
        parts = (
            base64.b64decode(document["mac"]["k"], validate=True),
            base64.b64decode(document["mac"]["r"], validate=True),
            base64.b64decode(document["encrypt"], validate=True),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise KeyFileError(f"the key file holds no master key: {type(error).__name__}") from None
    if tuple(map(len, parts)) != (16, 16, 32) or not all(any(part) for part in parts):
        raise KeyFileError("the key file holds no valid master key")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
