"""Signed checkpoints of the audit log: its size, Merkle root and last record's hash, signed with
the host's Ed25519 checkpoint key.

The key lives in ``<state dir>/audit-checkpoint.key`` (0600, root-only), created on first use;
its public half travels inside every checkpoint, and ``audit verify`` refuses a checkpoint whose
key is not the host's. Checkpoints are kept in ``audit_checkpoints`` (state.db) and copied to
every backup location (anchors.py): a root with the host key can rewrite the local log and sign
a new head, but not the copies at the locations, which is what catches a replaced log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import pathlib
import sqlite3
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from backupctl import state
from backupctl.audit import log, merkle
from backupctl.keys import securefile

KEY_FILE = "audit-checkpoint.key"
MAX_KEY_BYTES = 256
VERSION = 1


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A signed statement: this host's log held ``tree_size`` records with this root and head."""

    host: str
    tree_size: int
    root: str  # Merkle root, hex
    head: str  # hash of record tree_size (the hash chain's head), hex
    at: str
    key: str  # the signer's Ed25519 public key, hex
    signature: str = ""

    def body(self) -> bytes:
        """Return the canonical bytes the signature covers."""
        fields = dataclasses.asdict(self)
        fields.pop("signature")
        fields["version"] = VERSION
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def to_bytes(self) -> bytes:
        """Return the checkpoint as the JSON document written to anchors."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, indent=1).encode() + b"\n"

    def key_id(self) -> str:
        return key_id(bytes.fromhex(self.key))


class CheckpointError(log.AuditError):
    """A checkpoint cannot be made, read or trusted."""


def key_id(public: bytes) -> str:
    """Given a raw public key, return its short fingerprint."""
    return hashlib.sha256(public).hexdigest()[:16]


def parse(data: bytes, *, where: str) -> Checkpoint:
    """Given an anchor's bytes, return its checkpoint; raise CheckpointError when malformed."""
    try:
        fields = json.loads(data)
        checkpoint = Checkpoint(**{name: fields[name] for name in _FIELDS})
        if not isinstance(checkpoint.tree_size, int) or checkpoint.tree_size < 0:
            raise ValueError("tree_size")
        for name in ("root", "head", "key", "signature"):
            bytes.fromhex(getattr(checkpoint, name))
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{where}: not a checkpoint ({error})") from None
    return checkpoint


_FIELDS = tuple(field.name for field in dataclasses.fields(Checkpoint))


def signature_ok(checkpoint: Checkpoint) -> bool:
    """Given a checkpoint, return whether its signature verifies under the key it names."""
    try:
        public = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint.key))
        public.verify(bytes.fromhex(checkpoint.signature), checkpoint.body())
    except (InvalidSignature, ValueError):
        return False
    return True


def signing_key(state_dir: pathlib.Path) -> ed25519.Ed25519PrivateKey:
    """Given the state directory, return the host's checkpoint key, creating it (0600) on first
    use; raise CheckpointError when the file is unsafe or damaged. The file holds the raw 32-byte
    private key in hex (no PEM: the serialization module alone costs a backup run 6 ms)."""
    path = state_dir / KEY_FILE
    if not path.exists() and not path.is_symlink():
        key = ed25519.Ed25519PrivateKey.generate()
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            securefile.write_new(path, key.private_bytes_raw().hex().encode() + b"\n", mode=0o600)
    try:
        data = securefile.read_bounded(path, limit=MAX_KEY_BYTES, what="checkpoint key")
        return ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(data.decode().strip()))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"checkpoint key {path} cannot be read: {error}") from None


def public_hex(key: ed25519.Ed25519PrivateKey) -> str:
    """Given the checkpoint key, return its public half in hex."""
    return key.public_key().public_bytes_raw().hex()


def make(
    db: pathlib.Path,
    state_dir: pathlib.Path,
    *,
    host: str,
    events: Sequence[log.Event] = (),
    connection: sqlite3.Connection | None = None,
) -> Checkpoint | None:
    """Given the state database (and events to append first, in the same transaction), sign and
    store a checkpoint of the log as it is then (extending the last checkpoint's tree by the
    records since); return it, None for an empty log. One commit for records and checkpoint, on
    ``connection`` when given (the run's own): the end of a run costs one durable write, not one
    per record (docs/performance.md)."""
    key = signing_key(state_dir)
    try:
        if connection is not None:
            return _make_committed(connection, key, host, events)
        with state.connect(db) as opened:
            return _make_committed(opened, key, host, events)
    except sqlite3.Error as error:
        raise CheckpointError(f"cannot write a checkpoint in {db}: {error}") from None


def _make_committed(
    connection: sqlite3.Connection,
    key: ed25519.Ed25519PrivateKey,
    host: str,
    events: Sequence[log.Event],
) -> Checkpoint | None:
    connection.isolation_level = None
    connection.execute("BEGIN IMMEDIATE")
    try:
        for event in events:
            log.append_in(connection, event)
        made = _make_in(connection, key, host)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.isolation_level = ""
    return made


def _make_in(
    connection: sqlite3.Connection, key: ed25519.Ed25519PrivateKey, host: str
) -> Checkpoint | None:
    last = connection.execute(
        "SELECT tree_size, body, signature, frontier FROM audit_checkpoints"
        " ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    frontier = merkle.Frontier.from_json(json.loads(last[3])) if last else merkle.Frontier()
    rows = connection.execute(
        "SELECT seq, hash FROM audit_log WHERE seq > ? ORDER BY seq", (frontier.size,)
    ).fetchall()
    if not rows:
        return stored(last[1], last[2]) if last else None
    frontier = frontier.extended(merkle.leaf_hash(bytes.fromhex(row[1])) for row in rows)
    unsigned = Checkpoint(
        host=host,
        tree_size=frontier.size,
        root=frontier.root().hex(),
        head=rows[-1][1],
        at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        key=public_hex(key),
    )
    signed = dataclasses.replace(unsigned, signature=key.sign(unsigned.body()).hex())
    connection.execute(
        "INSERT INTO audit_checkpoints (tree_size, body, signature, frontier) VALUES (?, ?, ?, ?)",
        (
            signed.tree_size,
            signed.body().decode(),
            signed.signature,
            json.dumps(frontier.to_json()),
        ),
    )
    return signed


def stored(body: str, signature: str) -> Checkpoint:
    """Given a stored body and signature, return the checkpoint."""
    fields = json.loads(body)
    fields.pop("version", None)
    return Checkpoint(**fields, signature=signature)


def local_checkpoints(db: pathlib.Path) -> list[Checkpoint]:
    """Given the state database, return its checkpoints, smallest first."""
    with state.connect(db) as connection:
        rows = connection.execute(
            "SELECT body, signature FROM audit_checkpoints ORDER BY tree_size"
        ).fetchall()
    return [stored(body, signature) for body, signature in rows]
