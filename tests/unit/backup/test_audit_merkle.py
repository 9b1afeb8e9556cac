"""The RFC 6962 Merkle tree: roots, inclusion and consistency proofs, for every size."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from backupctl.audit import merkle


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 MTH, written the way the RFC states it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def leaves_of(count: int) -> list[bytes]:
    return [merkle.leaf_hash(index.to_bytes(4, "big")) for index in range(count)]


@given(st.integers(0, 300), st.integers(0, 300))
def test_the_frontier_extended_in_steps_has_the_rfc_root(first, more):
    leaves = leaves_of(first + more)
    stepped = merkle.Frontier().extended(leaves[:first]).extended(leaves[first:])
    assert stepped.size == first + more
    assert stepped.root() == reference_root(leaves)
    assert merkle.Frontier.from_json(stepped.to_json()) == stepped


def test_a_known_root():
    # Two leaves: the RFC's structure, checked by hand.
    one, two = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    expected = hashlib.sha256(b"\x01" + one + two).digest()
    assert merkle.root_of([one, two]) == expected


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_every_inclusion_proof_verifies_and_a_wrong_leaf_does_not(case):
    size, index = case
    leaves = leaves_of(size)
    root = merkle.root_of(leaves)
    proof = merkle.inclusion_proof(leaves, index)
    assert merkle.verify_inclusion(leaves[index], index, size, proof, root)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, size, proof, root)
    if size > 1:
        assert not merkle.verify_inclusion(leaves[index], (index + 1) % size, size, proof, root)


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_every_consistency_proof_verifies_and_a_different_history_does_not(case):
    old_size, new_size = case
    leaves = leaves_of(new_size)
    old_root, new_root = merkle.root_of(leaves[:old_size]), merkle.root_of(leaves)
    proof = merkle.consistency_proof(leaves, old_size)
    assert merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
    other = [merkle.leaf_hash(b"other"), *leaves[1:]]
    other_root = merkle.root_of(other[:old_size])
    assert not merkle.verify_consistency(old_size, new_size, other_root, new_root, proof)
