from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from serve import crud
from serve.deps import IdPath, IngestDep, ReviewerDep, SessionDep, SettingsDep
from serve.schemas import (DecisionCreate, DecisionResult, FlagCreate, FlagPublic, FlagsPublic, IngestRecording,
                           IngestResult, SanctionPublic, Timestamp)
from serve.tables import Flag

router = APIRouter(prefix="/flags", tags=["flags"])


@router.get("", response_model=FlagsPublic)
def queue(session: SessionDep, who: ReviewerDep,
          status: Literal["open", "confirmed", "dismissed"] = "open",
          label: str | None = Query(None, max_length=64), streamer_id: int | None = Query(None, ge=1, le=2_147_483_647),
          platform: str | None = Query(None, max_length=64), since: Timestamp | None = None,
          until: Timestamp | None = None, cursor: str | None = Query(None, pattern=crud.FLAG_CURSOR, description="next_cursor of the previous page"),
          limit: int = Query(50, ge=1, le=500)) -> FlagsPublic:
    """The review queue: most severe first, then newest first."""
    rows, nxt = crud.list_flags(session, status=status, label=label, streamer_id=streamer_id, platform=platform,
                                since=since, until=until, cursor=cursor, limit=limit)
    return FlagsPublic(data=[FlagPublic.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("", response_model=FlagPublic, status_code=201)
def create(body: FlagCreate, session: SessionDep, settings: SettingsDep, who: IngestDep) -> Flag:
    """A detector pushes a flag that carries its own fields."""
    return crud.create_flag(session, data=body, settings=settings, who=who)


@router.post("/ingest", response_model=IngestResult)
def ingest(body: IngestRecording, session: SessionDep, settings: SettingsDep, who: IngestDep) -> IngestResult:
    """Turn the scanner's findings for one recording into flags (idempotent). With `stream_id`,
    open flags of the recording that have no stream yet (a scan without attribution) are attached
    to it, and so reach the sanctions ladder when confirmed."""
    created, existing, attached = crud.ingest_recording(session, data=body, settings=settings, who=who)
    return IngestResult(created=[f.id for f in created], existing=existing, attached=[f.id for f in attached])


@router.get("/{flag_id}", response_model=FlagPublic)
def get(flag_id: IdPath, session: SessionDep, who: ReviewerDep) -> Flag:
    return crud.get_or_404(session, Flag, flag_id, "flag")


@router.post("/{flag_id}/claim", response_model=FlagPublic)
def claim(flag_id: IdPath, session: SessionDep, settings: SettingsDep, who: ReviewerDep) -> Flag:
    """Lease the flag for review; another reviewer gets 409 until the lease expires or a decision is made."""
    return crud.claim_flag(session, flag_id=flag_id, who=who, lease_s=settings.lease_seconds)


@router.post("/{flag_id}/decision", response_model=DecisionResult)
def decide(flag_id: IdPath, body: DecisionCreate, session: SessionDep, settings: SettingsDep,
           who: ReviewerDep) -> DecisionResult:
    """Confirm or dismiss, with a reason. Confirming builds the evidence package and applies the policy."""
    flag, outcome, evidence_id = crud.decide_flag(session, flag_id=flag_id, decision=body.decision,
                                                  reason=body.reason, who=who, settings=settings)
    return DecisionResult(flag=FlagPublic.model_validate(flag),
                          sanctions=[SanctionPublic.model_validate(s) for s in outcome.sanctions],
                          blacklist_entry_id=outcome.blacklist_entry.id if outcome.blacklist_entry else None,
                          evidence_record_id=evidence_id)
