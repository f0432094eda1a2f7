"""A transparency log over the evidence records, in the manner of Certificate Transparency
(RFC 6962 / RFC 9162 Merkle trees): signed tree heads, inclusion and consistency proofs.

The hash chain in `serve.evidence` shows that records were not altered relative to each other,
but whoever controls the database can rewrite the newest records and recompute every hash. A
signed tree head that a regulator keeps outside the database pins the log: any later tree must
contain that tree unchanged as its first `tree_size` leaves (a consistency proof shows it without
the leaves), and each record can be shown to be in the tree (an inclusion proof).

    leaf      = canonical JSON of the record: seq, flag id, package hash (the manifest: flag,
                transcript, decision, clip hash), clip file name, time
    leaf hash = SHA-256(0x00 || leaf)          node = SHA-256(0x01 || left || right)
    head      = {"tree_size", "root_hash", "timestamp", "key_id", "signature"} (Ed25519 over the
                canonical JSON of the first three)
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timezone

__all__ = ["leaf_bytes", "leaf_hash", "root", "inclusion_proof", "verify_inclusion", "consistency_proof",
           "verify_consistency", "tree_head", "sign_head", "verify_head_signature"]


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_bytes(rec) -> bytes:
    """What the log commits to for one evidence record (an EvidenceRecord row or the same fields)."""
    created = rec.created_at.astimezone(timezone.utc).isoformat() if rec.created_at.tzinfo else \
        rec.created_at.replace(tzinfo=timezone.utc).isoformat()
    return json.dumps({"seq": rec.seq, "flag_id": rec.flag_id, "package_sha256": rec.package_sha256,
                       "clip_file": rec.clip_file, "created_at": created},
                      sort_keys=True, separators=(",", ":")).encode()


def leaf_hash(leaf: bytes) -> bytes:
    return _h(b"\x00" + leaf)


def _node(left: bytes, right: bytes) -> bytes:
    return _h(b"\x01" + left + right)


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash of a list of leaf hashes (RFC 6962 MTH; the empty tree hashes to SHA-256(''))."""
    n = len(hashes)
    if n == 0:
        return _h(b"")
    if n == 1:
        return hashes[0]
    k = _split(n)
    return _node(root(hashes[:k]), root(hashes[k:]))


def inclusion_proof(hashes: Sequence[bytes], m: int) -> list[bytes]:
    """Audit path of leaf m (0-based) in the tree of `hashes` (RFC 6962 PATH)."""
    n = len(hashes)
    if not 0 <= m < n:
        raise ValueError(f"leaf {m} is not in a tree of {n}")
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return inclusion_proof(hashes[:k], m) + [root(hashes[k:])]
    return inclusion_proof(hashes[k:], m - k) + [root(hashes[:k])]


def _shift_to_odd(fn: int, sn: int) -> tuple[int, int]:
    """RFC 9162's step for a right child at the edge: shift both until LSB(fn) is set or fn is 0."""
    while fn and not fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def verify_inclusion(leaf_h: bytes, m: int, n: int, proof: Sequence[bytes], root_h: bytes) -> bool:
    """RFC 9162 2.1.3.2: does `proof` show leaf m with hash `leaf_h` in the tree of size n with `root_h`?"""
    if not 0 <= m < n:
        return False
    fn, sn, r = m, n - 1, leaf_h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            fn, sn = _shift_to_odd(fn, sn)
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_h


def consistency_proof(hashes: Sequence[bytes], m: int) -> list[bytes]:
    """Proof that the tree of the first m leaves is a prefix of the tree of all (RFC 6962 PROOF)."""
    n = len(hashes)
    if not 0 < m <= n:
        raise ValueError(f"no consistency proof from size {m} to {n}")
    return _subproof(hashes, m, True)


def _subproof(hashes: Sequence[bytes], m: int, complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [root(hashes)]
    k = _split(n)
    if m <= k:
        return _subproof(hashes[:k], m, complete) + [root(hashes[k:])]
    return _subproof(hashes[k:], m - k, False) + [root(hashes[:k])]


def verify_consistency(m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: does `proof` show the tree of size m (root_m) is the first m leaves of the
    tree of size n (root_n)?"""
    if not 0 < m <= n:
        return False
    if m == n:
        return not proof and root_m == root_n
    if not proof:
        return False
    proof = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: its root is the first node of the path
        proof = [root_m] + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            fn, sn = _shift_to_odd(fn, sn)
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root_m and sr == root_n


def tree_head(hashes: Sequence[bytes], when: datetime | None = None) -> dict:
    when = when or datetime.now(timezone.utc)
    return {"tree_size": len(hashes), "root_hash": root(hashes).hex(),
            "timestamp": when.astimezone(timezone.utc).isoformat(timespec="seconds")}


def _signed_part(head: dict) -> bytes:
    return json.dumps({k: head[k] for k in ("tree_size", "root_hash", "timestamp")},
                      sort_keys=True, separators=(",", ":")).encode()


def sign_head(head: dict, signer) -> dict:
    """The head with an Ed25519 signature by `signer` (serve.signing.ExportSigner) and its public key."""
    sig = signer.sign(_signed_part(head))
    return {**head, "key_id": signer.key_id, "public_key_pem": signer.public_key_pem,
            "signature": base64.b64encode(sig).decode()}


def verify_head_signature(head: dict, public_key_pem: str | None = None) -> bool:
    """Check a signed head against `public_key_pem` (the key the regulator was given; by default
    the one in the head, which only shows the head was not altered since it was signed)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key((public_key_pem or head["public_key_pem"]).encode())
        key.verify(base64.b64decode(head["signature"]), _signed_part(head))
        return True
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
