from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import BigInteger, literal, select

from serve import crud
from serve.deps import IdPath, ReaderDep, SessionDep, StreamReaderDep, StreamWriterDep
from serve.schemas import StreamCreate, StreamPublic, StreamsPublic
from serve.tables import Stream, Streamer

router = APIRouter(prefix="/streams", tags=["streams"])


@router.post("", response_model=StreamPublic, status_code=201)
def register(body: StreamCreate, session: SessionDep, who: StreamWriterDep) -> Stream:
    if body.streamer_id is not None:
        crud.get_or_404(session, Streamer, body.streamer_id, "streamer")
    stream = Stream(url=body.url, platform=body.platform, streamer_id=body.streamer_id, listing=body.listing.stored() if body.listing else None)
    session.add(stream)
    session.flush()
    crud.audit(session, who=who, action="stream.register", entity="stream", entity_id=stream.id)
    session.commit()
    return stream


@router.get("", response_model=StreamsPublic)
def list_streams(session: SessionDep, who: StreamReaderDep, platform: str | None = Query(None, max_length=64),
                 monitoring: str | None = Query(None, pattern="^(monitoring|stopped)$"),
                 cursor: str | None = Query(None, pattern=crud.ID_CURSOR, description="next_cursor of the previous page"), limit: int = Query(50, ge=1, le=500)
                 ) -> StreamsPublic:
    q = select(Stream).order_by(Stream.id)
    if platform:
        q = q.where(Stream.platform == platform)
    if monitoring:
        q = q.where(Stream.monitoring == monitoring)
    if cursor:
        q = q.where(Stream.id > literal(crud.decode_cursor(cursor, crud.ID_CURSOR)[0], BigInteger))  # may pass int32
    rows = list(session.scalars(q.limit(limit + 1)))
    nxt = crud.encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return StreamsPublic(data=[StreamPublic.model_validate(r) for r in rows[:limit]], next_cursor=nxt)


@router.get("/{stream_id}", response_model=StreamPublic)
def get(stream_id: IdPath, session: SessionDep, who: ReaderDep) -> Stream:
    return crud.get_or_404(session, Stream, stream_id, "stream")


def _set_monitoring(session, stream_id: int, who, state: str) -> Stream:
    stream = crud.get_or_404(session, Stream, stream_id, "stream")
    if stream.monitoring == state:
        raise HTTPException(409, f"stream {stream_id} is already {state}")
    stream.monitoring, stream.updated_at = state, crud.now()
    crud.audit(session, who=who, action=f"stream.{state}", entity="stream", entity_id=stream.id)
    session.commit()
    return stream


@router.post("/{stream_id}/start", response_model=StreamPublic)
def start(stream_id: IdPath, session: SessionDep, who: StreamWriterDep) -> Stream:
    """Mark the stream as monitored (the live monitor picks up streams in this state)."""
    return _set_monitoring(session, stream_id, who, "monitoring")


@router.post("/{stream_id}/stop", response_model=StreamPublic)
def stop(stream_id: IdPath, session: SessionDep, who: StreamWriterDep) -> Stream:
    return _set_monitoring(session, stream_id, who, "stopped")
