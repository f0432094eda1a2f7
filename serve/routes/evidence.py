from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from serve import crud
from serve.deps import IdPath, ReaderDep, SessionDep, SettingsDep
from serve.evidence import verify_chain, verify_record
from serve.schemas import ChainVerify, EvidencePublic
from serve.tables import EvidenceRecord

router = APIRouter(prefix="/evidence", tags=["evidence"])


def _public(rec: EvidenceRecord) -> EvidencePublic:
    return EvidencePublic(id=rec.id, seq=rec.seq, flag_id=rec.flag_id, package_sha256=rec.package_sha256,
                          prev_hash=rec.prev_hash, record_hash=rec.record_hash, created_at=rec.created_at,
                          manifest=json.loads(rec.manifest))


@router.get("/verify", response_model=ChainVerify)
def verify_all(session: SessionDep, settings: SettingsDep, who: ReaderDep) -> ChainVerify:
    """Re-check the whole chain; names the first broken record."""
    return ChainVerify(**verify_chain(session, settings.evidence_dir).__dict__)


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
