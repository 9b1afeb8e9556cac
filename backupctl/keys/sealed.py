"""The container shared by the keystore and the escrow: a self-describing header, then ciphertext.

Layout (all integers big-endian)::

    magic       8 bytes   b"BCTLKEYS" (keystore), b"BCTLESCR" (escrow), b"BCTLRKEY" (recovery key)
    version     1 byte    format version: 2 is written, 1 and 2 are read
    header_len  4 bytes   length of the header
    header      JSON      UTF-8 object, sorted keys: algorithms, parameters, salt, nonce
    ciphertext  rest      AEAD output (ciphertext and 16-byte tag)
    digest      32 bytes  version 2 only: SHA-256 of every byte before it

Everything before the ciphertext is the AEAD's associated data, so a changed header fails
authentication like changed ciphertext does. The digest of version 2 is not a protection against
an attacker (the AEAD is): it tells accidental damage anywhere in the file apart from a wrong key
before any key is derived. Parsing takes a file object; "not this format" (:class:`NotThisFormat`)
and "this format, but damaged" (:class:`DamagedContainer`) are different errors. Neither message
ever contains file content.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import struct
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Callable

KEYSTORE_MAGIC = b"BCTLKEYS"
ESCROW_MAGIC = b"BCTLESCR"
RECOVERY_KEY_MAGIC = b"BCTLRKEY"
VERSION = 2
READABLE_VERSIONS = (1, 2)
DIGEST_SIZE = 32
MAX_HEADER = 64 * 1024
_PREFIX = struct.Struct(">8sBI")


class ContainerError(ValueError):
    """The bytes are not a usable container; the caller names the path."""


class NotThisFormat(ContainerError):
    """The magic is wrong: this is some other kind of file."""


class DamagedContainer(ContainerError):
    """The magic is right, but the version, header or length is unusable."""


@dataclasses.dataclass(frozen=True)
class Container:
    """A parsed container: its format version, header, associated data, and ciphertext."""

    version: int
    header: dict
    associated_data: bytes
    ciphertext: bytes


def seal(
    *, magic: bytes, header: dict, encrypt: Callable[[bytes], bytes], version: int = VERSION
) -> bytes:
    """Given a magic, a header and ``encrypt(associated_data) -> ciphertext``, return the file
    bytes in format ``version`` (version 1 only to make old files in tests)."""
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    associated_data = _PREFIX.pack(magic, version, len(header_bytes)) + header_bytes
    body = associated_data + encrypt(associated_data)
    return body + hashlib.sha256(body).digest() if version >= 2 else body


def parse(stream: BinaryIO, *, magic: bytes) -> Container:
    """Given a binary file object, return its Container; raise NotThisFormat or DamagedContainer."""
    prefix = stream.read(_PREFIX.size)
    if len(prefix) < len(magic) or prefix[: len(magic)] != magic:
        raise NotThisFormat("bad magic")
    if len(prefix) < _PREFIX.size:
        raise DamagedContainer("truncated before the header")
    _, version, header_len = _PREFIX.unpack(prefix)
    if version not in READABLE_VERSIONS:
        raise DamagedContainer(
            f"unsupported format version {version} (this backupctl reads 1 to {VERSION})"
        )
    rest = stream.read()
    if version >= 2:
        rest = _verified_body(prefix, rest)
    if header_len > MAX_HEADER:
        raise DamagedContainer("header length out of range")
    header_bytes = rest[:header_len]
    if len(header_bytes) != header_len:
        raise DamagedContainer("truncated inside the header")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DamagedContainer("header is not valid JSON") from None
    if not isinstance(header, dict):
        raise DamagedContainer("header is not a JSON object")
    return Container(
        version=version,
        header=header,
        associated_data=prefix + header_bytes,
        ciphertext=rest[header_len:],
    )


def _verified_body(prefix: bytes, rest: bytes) -> bytes:
    """Given the prefix and the rest of a version 2 file, return the rest without its digest;
    raise DamagedContainer when the digest is missing or does not match."""
    if len(rest) < DIGEST_SIZE:
        raise DamagedContainer("truncated: the checksum is missing")
    body, digest = rest[:-DIGEST_SIZE], rest[-DIGEST_SIZE:]
    if not hmac.compare_digest(hashlib.sha256(prefix + body).digest(), digest):
        raise DamagedContainer("checksum mismatch: bytes were changed, lost or added")
    return body


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def header_bytes_field(header: dict, *path: str, size_range: tuple[int, int]) -> bytes:
    """Given a header and a key path to a base64 field, return its bytes; raise DamagedContainer."""
    value = header_field(header, *path)
    try:
        data = base64.b64decode(value, validate=True)
    except (TypeError, ValueError):
        raise DamagedContainer(f"header field {'.'.join(path)} is not base64") from None
    if not size_range[0] <= len(data) <= size_range[1]:
        raise DamagedContainer(f"header field {'.'.join(path)} has a bad length")
    return data


def header_field(header: dict, *path: str) -> Any:
    """Given a header and a key path, return the value; raise DamagedContainer when missing."""
    value = header
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise DamagedContainer(f"header field {'.'.join(path)} is missing")
        value = value[key]
    return value
