"""The Merkle tree of the evidence log: proofs that verify, and tampering that does not."""

import hashlib

import pytest

from serve.transparency import (consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency,
                                verify_inclusion)

LEAVES = [leaf_hash(f"record {i}".encode()) for i in range(33)]


def test_known_roots_follow_rfc_6962():
    a, b, c = LEAVES[:3]
    node = lambda x, y: hashlib.sha256(b"\x01" + x + y).digest()  # noqa: E731
    assert root([]) == hashlib.sha256(b"").digest() and root([a]) == a
    assert root([a, b, c]) == node(node(a, b), c)  # the left subtree is the largest power of two


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 33])
def test_every_leaf_has_an_inclusion_proof_and_a_changed_leaf_has_none(n):
    hashes, r = LEAVES[:n], root(LEAVES[:n])
    for m in range(n):
        proof = inclusion_proof(hashes, m)
        assert verify_inclusion(hashes[m], m, n, proof, r)
        assert not verify_inclusion(leaf_hash(b"forged"), m, n, proof, r)
        if n > 1:  # the same leaf claimed at another position
            assert not verify_inclusion(hashes[m], (m + 1) % n, n, proof, r)
        if proof:
            assert not verify_inclusion(hashes[m], m, n, proof[:-1], r)


def test_consistency_between_every_pair_of_sizes_and_a_rewritten_history_fails():
    for n in range(1, 21):
        for m in range(1, n + 1):
            proof = consistency_proof(LEAVES[:n], m)
            assert verify_consistency(m, n, root(LEAVES[:m]), root(LEAVES[:n]), proof), (m, n)
            if m < n:
                rewritten = LEAVES[:m - 1] + [leaf_hash(b"rewritten")] + LEAVES[m:n]  # the old head's last leaf
                bad = consistency_proof(rewritten, m)
                assert not verify_consistency(m, n, root(LEAVES[:m]), root(rewritten), bad), (m, n)
