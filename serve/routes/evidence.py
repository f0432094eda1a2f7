from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse

from serve import crud
from serve.deps import IdPath, ReaderDep, SessionDep, SettingsDep
from serve.evidence import log_hashes, signed_head, verify_chain, verify_record
from serve.schemas import ChainVerify, ConsistencyProof, EvidencePublic, InclusionProof
from serve.tables import EvidenceRecord
from serve.transparency import consistency_proof, inclusion_proof, leaf_bytes, root

router = APIRouter(prefix="/evidence", tags=["evidence"])


def _public(rec: EvidenceRecord) -> EvidencePublic:
    return EvidencePublic(id=rec.id, seq=rec.seq, flag_id=rec.flag_id, package_sha256=rec.package_sha256,
                          prev_hash=rec.prev_hash, record_hash=rec.record_hash, created_at=rec.created_at,
                          manifest=json.loads(rec.manifest))


@router.get("/verify", response_model=ChainVerify)
def verify_all(session: SessionDep, settings: SettingsDep, who: ReaderDep) -> ChainVerify:
    """Re-check the whole chain; names the first broken record."""
    return ChainVerify(**verify_chain(session, settings.evidence_dir).__dict__)


@router.get("/head")
def head(request: Request, session: SessionDep, who: ReaderDep) -> dict:
    """The signed head of the evidence transparency log now (Ed25519 with the export key; signature
    null when the service has none). Keep heads: a later log must contain each unchanged."""
    return signed_head(session, request.app.state.export_signer)


@router.get("/consistency", response_model=ConsistencyProof)
def consistency(session: SessionDep, who: ReaderDep, first: int = Query(ge=1, le=2_147_483_647),
                second: int | None = Query(None, ge=1, le=2_147_483_647)) -> ConsistencyProof:
    """Proof that the log of `first` records (a head you kept) is the start of the log of `second`
    (default: now), RFC 6962 style."""
    hashes = log_hashes(session)
    second = second or len(hashes)
    if not first <= second <= len(hashes):
        raise HTTPException(404, f"no consistency proof from {first} to {second}: the log has {len(hashes)} record(s)")
    return ConsistencyProof(first=first, second=second, first_root=root(hashes[:first]).hex(),
                            second_root=root(hashes[:second]).hex(),
                            proof=[p.hex() for p in consistency_proof(hashes[:second], first)])


@router.get("/{record_id}", response_model=EvidencePublic)
def get(record_id: IdPath, session: SessionDep, who: ReaderDep) -> EvidencePublic:
    """The package: manifest (transcript, listing, model ids, decision, clip hash) and its chain link.
    The manifest's canonical JSON (sorted keys, no spaces) hashes to package_sha256."""
    return _public(crud.get_or_404(session, EvidenceRecord, record_id, "evidence record"))


@router.get("/{record_id}/clip", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
def clip(record_id: IdPath, session: SessionDep, settings: SettingsDep, who: ReaderDep) -> FileResponse:
    rec = crud.get_or_404(session, EvidenceRecord, record_id, "evidence record")
    path = settings.evidence_dir / rec.clip_file if rec.clip_file else None
    if path is None or not path.is_file():
        raise HTTPException(404, f"evidence record {record_id} has no clip")
    return FileResponse(path, media_type="application/octet-stream", filename=rec.clip_file)


@router.get("/{record_id}/verify", response_model=ChainVerify)
def verify_one(record_id: IdPath, session: SessionDep, settings: SettingsDep, who: ReaderDep) -> ChainVerify:
    rec = crud.get_or_404(session, EvidenceRecord, record_id, "evidence record")
    return ChainVerify(**verify_record(session, rec, settings.evidence_dir).__dict__)


@router.get("/{record_id}/proof", response_model=InclusionProof)
def proof(record_id: IdPath, session: SessionDep, who: ReaderDep,
          tree_size: int | None = Query(None, ge=1, le=2_147_483_647)) -> InclusionProof:
    """Inclusion proof of the record in the log of `tree_size` records (default: now)."""
    rec = crud.get_or_404(session, EvidenceRecord, record_id, "evidence record")
    hashes = log_hashes(session)
    size = tree_size or len(hashes)
    if not rec.seq <= size <= len(hashes):
        raise HTTPException(404, f"record seq {rec.seq} is not in a log of {size} record(s) (the log has {len(hashes)})")
    return InclusionProof(seq=rec.seq, leaf_index=rec.seq - 1, tree_size=size, root_hash=root(hashes[:size]).hex(),
                          leaf=leaf_bytes(rec).decode(), audit_path=[p.hex() for p in inclusion_proof(hashes[:size], rec.seq - 1)])
