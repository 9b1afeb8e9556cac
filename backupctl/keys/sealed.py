"""The container shared by the keystore and the escrow: a self-describing header, then ciphertext.

Layout (all integers big-endian)::

    magic       8 bytes   b"BCTLKEYS" (keystore) or b"BCTLESCR" (escrow)
    version     1 byte    format version, 1
    header_len  4 bytes   length of the header
    header      JSON      UTF-8 object, sorted keys: algorithms, parameters, salt, nonce
    ciphertext  rest      AEAD output (ciphertext and 16-byte tag)

Everything before the ciphertext is the AEAD's associated data, so a changed header fails
authentication like changed ciphertext does. Parsing takes a file object; "not this format"
(:class:`NotThisFormat`) and "this format, but damaged" (:class:`DamagedContainer`) are
different errors. Neither message ever contains file content.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
from typing import BinaryIO

KEYSTORE_MAGIC = b"BCTLKEYS"
ESCROW_MAGIC = b"BCTLESCR"
VERSION = 1
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
    """A parsed container: its header, the associated data, and the ciphertext."""

    header: dict
    associated_data: bytes
    ciphertext: bytes


def seal(*, magic: bytes, header: dict, encrypt) -> bytes:
    """Given a magic, a header and ``encrypt(associated_data) -> ciphertext``, return the file bytes."""
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    associated_data = _PREFIX.pack(magic, VERSION, len(header_bytes)) + header_bytes
    return associated_data + encrypt(associated_data)


def parse(stream: BinaryIO, *, magic: bytes) -> Container:
    """Given a binary file object, return its Container; raise NotThisFormat or DamagedContainer."""
    prefix = stream.read(_PREFIX.size)
    if len(prefix) < len(magic) or prefix[: len(magic)] != magic:
        raise NotThisFormat("bad magic")
    if len(prefix) < _PREFIX.size:
        raise DamagedContainer("truncated before the header")
    _, version, header_len = _PREFIX.unpack(prefix)
    if version != VERSION:
        raise DamagedContainer(
            f"unsupported format version {version} (this backupctl reads {VERSION})"
        )
    if header_len > MAX_HEADER:
        raise DamagedContainer("header length out of range")
    header_bytes = stream.read(header_len)
    if len(header_bytes) != header_len:
        raise DamagedContainer("truncated inside the header")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DamagedContainer("header is not valid JSON") from None
    if not isinstance(header, dict):
        raise DamagedContainer("header is not a JSON object")
    return Container(header=header, associated_data=prefix + header_bytes, ciphertext=stream.read())


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


def header_field(header: dict, *path: str):
    """Given a header and a key path, return the value; raise DamagedContainer when missing."""
    value = header
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise DamagedContainer(f"header field {'.'.join(path)} is missing")
        value = value[key]
    return value
