"""Tamper-evident evidence: one package per confirmed flag, appended to a hash chain.

A package is a manifest (flag, transcript around it, listing, model ids, the decision, and the
clip by SHA-256) plus the clip's bytes, copied into the evidence directory. The chain:

    package_sha256 = sha256(canonical manifest JSON)
    record_hash    = sha256("<seq>|<prev_hash>|<package_sha256>")      prev_hash of seq 1 = GENESIS

so changing any clip byte, manifest field or record breaks that record, and removing or
re-ordering records breaks the link after it. An export carries the head (the newest
record_hash): a party holding it can check that what it received is what was logged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from serve.tables import EvidenceRecord, Flag, Recording, Review, Stream, TranscriptSegment
from serve.transparency import leaf_bytes, leaf_hash, root, sign_head, tree_head, verify_head_signature

__all__ = ["GENESIS", "TRANSCRIPT_CONTEXT_MS", "VerifyResult", "append_package", "build_manifest",
           "chain_head", "log_hashes", "record_hash", "signed_head", "verify_against_head", "verify_chain",
           "verify_record"]

GENESIS = "0" * 64
TRANSCRIPT_CONTEXT_MS = 30_000  # transcript kept on each side of the flagged words, in ms
_CHUNK = 1 << 20  # bytes read at a time when hashing clips
CHAIN_LOCK_KEY = 0x4C47_4556  # "LGEV": PostgreSQL advisory lock that serialises chain appends


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def record_hash(seq: int, prev_hash: str, package_sha256: str) -> str:
    return hashlib.sha256(f"{seq}|{prev_hash}|{package_sha256}".encode()).hexdigest()


def build_manifest(session: Session, flag: Flag, review: Review, clip_sha256: str | None,
                   clip_bytes: int | None) -> dict:
    transcript = []
    if flag.recording_id is not None:
        rows = session.scalars(select(TranscriptSegment).where(
            TranscriptSegment.recording_id == flag.recording_id,
            TranscriptSegment.t1_ms >= flag.t0_ms - TRANSCRIPT_CONTEXT_MS,
            TranscriptSegment.t0_ms <= flag.t1_ms + TRANSCRIPT_CONTEXT_MS).order_by(TranscriptSegment.t0_ms))
        transcript = [{"t0_ms": s.t0_ms, "t1_ms": s.t1_ms, "text": s.text, "lang": s.lang,
                       "hallucination": s.hallucination, "model_id": s.model_id} for s in rows]
    if not transcript and flag.segment_text:
        transcript = [{"t0_ms": flag.t0_ms, "t1_ms": flag.t1_ms, "text": flag.segment_text}]
    stream = session.get(Stream, flag.stream_id) if flag.stream_id else None
    recording = session.get(Recording, flag.recording_id) if flag.recording_id else None
    return {
        "version": 1,
        "flag": {"id": flag.id, "label": flag.label, "t0_ms": flag.t0_ms, "t1_ms": flag.t1_ms, "score": flag.score,
                 "evidence": flag.evidence, "severity": flag.severity, "legal_basis": flag.legal_basis,
                 "streamer_id": flag.streamer_id, "stream_id": flag.stream_id, "platform": flag.platform},
        "recording": {"sha256": recording.sha256, "path": recording.path} if recording else None,
        "transcript": transcript,
        "frames": [],  # vision is not built yet; frame hashes will go here
        "listing": stream.listing if stream else None,
        "model_ids": {**flag.model_ids, "detector": flag.decided_by},
        "decision": {"decision": review.decision, "reason": review.reason, "reviewer": review.reviewer_name,
                     "reviewer_key_id": review.reviewer_key_id, "at": review.at.isoformat()},
        "clip": {"sha256": clip_sha256, "bytes": clip_bytes} if clip_sha256 else None,
    }


def chain_head(session: Session) -> tuple[str, int]:
    last = session.scalar(select(EvidenceRecord).order_by(EvidenceRecord.seq.desc()).limit(1))
    return (last.record_hash, last.seq) if last else (GENESIS, 0)


def append_package(session: Session, flag: Flag, review: Review, evidence_dir: Path) -> EvidenceRecord:
    """Copy the clip into the evidence store, hash the package and link it to the chain head.
    Runs inside the decision's transaction (SQLite: the decision's write lock already serialises
    appends; PostgreSQL: an advisory lock). The unique seq is the last line of defence."""
    if session.get_bind().dialect.name == "postgresql":
        # appends queue up here until the transaction ends, so two confirms never race for one seq
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
    prev_hash, last_seq = chain_head(session)
    seq = last_seq + 1
    clip_file = clip_sha = clip_size = None
    if flag.clip_path:
        src = Path(flag.clip_path)
        if src.is_file():
            evidence_dir.mkdir(parents=True, exist_ok=True)
            clip_file = f"{seq:08d}-flag{flag.id}{src.suffix.lower()[:10]}"
            shutil.copyfile(src, evidence_dir / clip_file)
            clip_sha, clip_size = sha256_file(evidence_dir / clip_file), (evidence_dir / clip_file).stat().st_size
    manifest = build_manifest(session, flag, review, clip_sha, clip_size)
    manifest_json = canonical(manifest).decode()
    pkg = hashlib.sha256(manifest_json.encode()).hexdigest()
    rec = EvidenceRecord(seq=seq, flag_id=flag.id, manifest=manifest_json, package_sha256=pkg, prev_hash=prev_hash,
                         record_hash=record_hash(seq, prev_hash, pkg), clip_file=clip_file,
                         created_at=datetime.now(timezone.utc))
    session.add(rec)
    session.flush()
    return rec


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head: str
    first_broken: int | None = None  # seq of the first failing record
    problem: str | None = None


def _check_one(rec: EvidenceRecord, expected_prev: str, evidence_dir: Path) -> str | None:
    if rec.prev_hash != expected_prev:
        return f"record {rec.seq}: prev_hash {rec.prev_hash[:12]}… does not match the record before ({expected_prev[:12]}…)"
    if hashlib.sha256(rec.manifest.encode()).hexdigest() != rec.package_sha256:
        return f"record {rec.seq}: manifest does not hash to package_sha256"
    if record_hash(rec.seq, rec.prev_hash, rec.package_sha256) != rec.record_hash:
        return f"record {rec.seq}: record_hash does not match seq|prev_hash|package_sha256"
    try:
        clip = json.loads(rec.manifest).get("clip")
    except ValueError:
        return f"record {rec.seq}: manifest is not JSON"
    if clip:
        if not rec.clip_file:
            return f"record {rec.seq}: manifest names a clip but no clip file is recorded"
        path = evidence_dir / rec.clip_file
        if not path.is_file():
            return f"record {rec.seq}: clip file {rec.clip_file} is missing"
        if sha256_file(path) != clip["sha256"]:
            return f"record {rec.seq}: clip file {rec.clip_file} does not match its SHA-256 (altered)"
    return None


def _check_flag(session: Session, rec: EvidenceRecord) -> str | None:
    """The record belongs to the flag its manifest names, and that flag still says what was confirmed."""
    manifest = json.loads(rec.manifest)["flag"]
    if rec.flag_id != manifest["id"]:
        return f"record {rec.seq}: flag_id {rec.flag_id} differs from the flag in its package ({manifest['id']})"
    flag = session.get(Flag, rec.flag_id)
    if flag is None:
        return f"record {rec.seq}: flag {rec.flag_id} is missing"
    changed = [k for k in ("label", "t0_ms", "t1_ms", "evidence", "severity", "legal_basis", "streamer_id",
                           "stream_id", "platform") if getattr(flag, k) != manifest.get(k)]
    if changed:
        return f"record {rec.seq}: flag {flag.id} no longer matches its evidence package ({', '.join(changed)})"
    return None


def verify_chain(session: Session, evidence_dir: Path) -> VerifyResult:
    """Walk the whole chain from the genesis; stop at and name the first broken record."""
    prev, n = GENESIS, 0
    for rec in session.scalars(select(EvidenceRecord).order_by(EvidenceRecord.seq)):
        n += 1
        if rec.seq != n:
            return VerifyResult(False, n, prev, rec.seq, f"record {rec.seq}: expected seq {n} (a record is missing)")
        problem = _check_one(rec, prev, evidence_dir) or _check_flag(session, rec)
        if problem:
            return VerifyResult(False, n, prev, rec.seq, problem)
        prev = rec.record_hash
    return VerifyResult(True, n, prev)


def verify_record(session: Session, record: EvidenceRecord, evidence_dir: Path) -> VerifyResult:
    """Check one package and its link to the record before it."""
    before = session.scalar(select(EvidenceRecord).where(EvidenceRecord.seq == record.seq - 1))
    expected_prev = before.record_hash if before else GENESIS
    problem = _check_one(record, expected_prev, evidence_dir) or _check_flag(session, record)
    return VerifyResult(problem is None, 1, record.record_hash, record.seq if problem else None, problem)


# --- the transparency log over the records (serve.transparency) ---------------------------------
def log_hashes(session: Session, size: int | None = None) -> list[bytes]:
    """Leaf hashes of the evidence log in seq order (the first `size` records)."""
    q = select(EvidenceRecord).order_by(EvidenceRecord.seq)
    if size is not None:
        q = q.limit(size)
    return [leaf_hash(leaf_bytes(r)) for r in session.scalars(q)]


def signed_head(session: Session, signer=None) -> dict:
    """The tree head of the log now; signed when the service has an export signing key."""
    head = tree_head(log_hashes(session))
    return sign_head(head, signer) if signer is not None else {**head, "signature": None}


def verify_against_head(session: Session, head: dict, public_key_pem: str | None = None) -> str | None:
    """None when `head` (kept by a regulator from an earlier export) is signed and the log still
    holds its tree unchanged as its first `tree_size` records; else what is wrong. A rewritten or
    removed record, or a record inserted before the head's end, changes that root."""
    try:
        size, want = int(head["tree_size"]), bytes.fromhex(head["root_hash"])
    except (KeyError, TypeError, ValueError):
        return "the head has no tree_size/root_hash"
    if head.get("signature") is None:
        return "the head is not signed (set LIVEGUARD_EXPORT_SIGNING_KEY on the service)"
    if not verify_head_signature(head, public_key_pem):
        return "the head's signature does not verify" + ("" if public_key_pem else " with the key it names")
    hashes = log_hashes(session)
    if len(hashes) < size:
        return f"the log has {len(hashes)} record(s), fewer than the {size} the head covers (records were removed)"
    if root(hashes[:size]) != want:
        return (f"the first {size} record(s) no longer hash to the head's root {want.hex()[:16]}…: "
                "the history was rewritten after the head was signed")
    return None
