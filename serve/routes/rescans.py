from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from serve import crud
from serve.deps import IdPath, SessionDep, SettingsDep, StreamWriterDep
from serve.rescans import resolve_paths
from serve.schemas import RescanCreate, RescanPublic
from serve.tables import RescanJob, Stream

router = APIRouter(prefix="/rescans", tags=["rescans"])


@router.post("", response_model=RescanPublic, status_code=202)
def submit(body: RescanCreate, request: Request, session: SessionDep, settings: SettingsDep,
           who: StreamWriterDep) -> RescanJob:
    """Queue a batch of recorded files; poll GET /rescans/{id} for progress and results."""
    if body.stream_id is not None:
        crud.get_or_404(session, Stream, body.stream_id, "stream")
    files = resolve_paths(body.paths, settings.rescan_roots)
    worker = request.app.state.rescans
    if worker is None:
        raise HTTPException(503, "the re-scan worker is not running")
    job = RescanJob(paths=files, total=len(files), stream_id=body.stream_id, created_by=who.name, results=[])
    session.add(job)
    session.flush()
    crud.audit(session, who=who, action="rescan.submit", entity="rescan", entity_id=job.id,
               details={"files": len(files)})
    session.commit()
    worker.submit(job.id)
    return job


@router.get("", response_model=list[RescanPublic])
def list_jobs(session: SessionDep, who: StreamWriterDep) -> list[RescanJob]:
    return list(session.scalars(select(RescanJob).order_by(RescanJob.id.desc()).limit(100)))


@router.get("/{job_id}", response_model=RescanPublic)
def get(job_id: IdPath, session: SessionDep, who: StreamWriterDep) -> RescanJob:
    return crud.get_or_404(session, RescanJob, job_id, "rescan job")
