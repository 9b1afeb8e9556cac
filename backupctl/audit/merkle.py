"""An RFC 6962 (RFC 9162 section 2.1) Merkle tree over the audit log's record hashes.

Leaf ``i`` is the hash of record ``i + 1``. A checkpoint signs the tree's root at a size; with
the root an auditor who kept an old checkpoint can be shown, without the whole log, that a
record is in the log (inclusion proof) and that today's log extends the one they saw
(consistency proof), and ``audit verify`` tells a log that was truncated from one that was
replaced by a different, internally consistent one.

``Frontier`` keeps the roots of the perfect subtrees along the right edge (at most 64), so a
checkpoint extends the tree by the records added since the last one, never from scratch.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Given a leaf's data, return its RFC 6962 leaf hash."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Given two subtree roots, return their parent's hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclasses.dataclass(frozen=True)
class Frontier:
    """The tree of ``size`` leaves, as the roots of its perfect subtrees from left to right."""

    size: int = 0
    roots: tuple[bytes, ...] = ()

    def extended(self, leaf_hashes: Iterable[bytes]) -> Frontier:
        """Given the hashes of new leaves, return the frontier with them appended."""
        size, roots = self.size, list(self.roots)
        for leaf in leaf_hashes:
            roots.append(leaf)
            size += 1
            merged = size
            while merged % 2 == 0:  # each trailing zero bit of the size closes a subtree
                right = roots.pop()
                roots[-1] = node_hash(roots[-1], right)
                merged //= 2
        return Frontier(size, tuple(roots))

    def root(self) -> bytes:
        """Return the Merkle tree hash of the leaves so far (RFC 6962 MTH)."""
        if not self.roots:
            return EMPTY_ROOT
        result = self.roots[-1]
        for left in reversed(self.roots[:-1]):
            result = node_hash(left, result)
        return result

    def to_json(self) -> list:
        return [self.size, [root.hex() for root in self.roots]]

    @classmethod
    def from_json(cls, value: list) -> Frontier:
        return cls(int(value[0]), tuple(bytes.fromhex(root) for root in value[1]))


def root_of(leaves: Sequence[bytes]) -> bytes:
    """Given leaf hashes, return the tree's root."""
    return Frontier().extended(leaves).root()


def _split(size: int) -> int:
    """Return the largest power of two smaller than ``size`` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Given all leaf hashes and a leaf's index, return its audit path (RFC 6962 PATH)."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root_of(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root_of(leaves[:k])]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Given a leaf hash, its index, the tree size, an audit path and a root, return whether the
    path proves the leaf is in that tree (RFC 9162 section 2.1.3.2)."""
    if index >= size:
        return False
    fn, sn, result = index, size - 1, leaf
    for node in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(node, result)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and result == root


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """Given all leaf hashes and an earlier tree size, return the proof that the earlier tree is
    a prefix of this one (RFC 6962 PROOF)."""
    if old_size == 0 or old_size == len(leaves):
        return []
    return _subproof(leaves, old_size, complete=True)


def _subproof(leaves: Sequence[bytes], m: int, *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_of(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves[:k], m, complete=complete), root_of(leaves[k:])]
    return [*_subproof(leaves[k:], m - k, complete=False), root_of(leaves[:k])]


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Given two tree sizes, their roots and a consistency proof, return whether the older tree
    is a prefix of the newer (RFC 9162 section 2.1.4.2)."""
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
