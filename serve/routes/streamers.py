from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from serve import crud
from serve.deps import IdPath, ReaderDep, ReviewerDep, SessionDep
from serve.schemas import (BlacklistPublic, FlagPublic, IdentityCreate, PlatformAccountCreate, SanctionPublic,
                           StreamerCreate, StreamerHistory, StreamerPublic)
from serve.tables import BlacklistEntry, Flag, LinkedIdentity, PlatformAccount, Sanction, Streamer

router = APIRouter(prefix="/streamers", tags=["streamers"])


def _taken(session, account: PlatformAccountCreate) -> None:
    owner = session.scalar(select(PlatformAccount).where(PlatformAccount.platform == account.platform,
                                                         PlatformAccount.account_id == account.account_id))
    if owner is not None:
        raise HTTPException(409, f"account {account.platform}:{account.account_id} already belongs to streamer "
                                 f"{owner.streamer_id}")


@router.post("", response_model=StreamerPublic, status_code=201)
def create(body: StreamerCreate, session: SessionDep, who: ReviewerDep) -> Streamer:
    streamer = Streamer(display_name=body.display_name)
    session.add(streamer)
    session.flush()
    for a in body.accounts:
        _taken(session, a)
        session.add(PlatformAccount(streamer_id=streamer.id, platform=a.platform, account_id=a.account_id,
                                    handle=a.handle))
    crud.audit(session, who=who, action="streamer.create", entity="streamer", entity_id=streamer.id)
    session.commit()
    session.refresh(streamer)
    return streamer


@router.get("/{streamer_id}", response_model=StreamerPublic)
def get(streamer_id: IdPath, session: SessionDep, who: ReaderDep) -> Streamer:
    return crud.get_or_404(session, Streamer, streamer_id, "streamer")


@router.get("/{streamer_id}/history", response_model=StreamerHistory)
def history(streamer_id: IdPath, session: SessionDep, who: ReaderDep) -> StreamerHistory:
    streamer = crud.get_or_404(session, Streamer, streamer_id, "streamer")
    sanctions = session.scalars(select(Sanction).where(Sanction.streamer_id == streamer_id).order_by(Sanction.id))
    entries = session.scalars(select(BlacklistEntry).where(BlacklistEntry.streamer_id == streamer_id)
                              .order_by(BlacklistEntry.id))
    flags = session.scalars(select(Flag).where(Flag.streamer_id == streamer_id, Flag.status == "confirmed")
                            .order_by(Flag.id))
    return StreamerHistory(streamer=StreamerPublic.model_validate(streamer),
                           sanctions=[SanctionPublic.model_validate(s) for s in sanctions],
                           blacklist=[BlacklistPublic.model_validate(e) for e in entries],
                           confirmed_flags=[FlagPublic.model_validate(f) for f in flags])


@router.post("/{streamer_id}/accounts", response_model=StreamerPublic, status_code=201)
def link_account(streamer_id: IdPath, body: PlatformAccountCreate, session: SessionDep, who: ReviewerDep) -> Streamer:
    streamer = crud.get_or_404(session, Streamer, streamer_id, "streamer")
    _taken(session, body)
    session.add(PlatformAccount(streamer_id=streamer.id, platform=body.platform, account_id=body.account_id,
                                handle=body.handle))
    crud.audit(session, who=who, action="streamer.link_account", entity="streamer", entity_id=streamer.id,
               details=body.model_dump())
    session.commit()
    session.refresh(streamer)
    return streamer


@router.post("/{streamer_id}/identities", response_model=StreamerPublic, status_code=201)
def link_identity(streamer_id: IdPath, body: IdentityCreate, session: SessionDep, who: ReviewerDep) -> Streamer:
    """Link an identity (hash of an ID document, phone, face id). If it is already linked to another
    streamer, that is answered with 409 naming them: the way a blacklisted person's new account is found."""
    streamer = crud.get_or_404(session, Streamer, streamer_id, "streamer")
    other = session.scalar(select(LinkedIdentity).where(LinkedIdentity.kind == body.kind,
                                                        LinkedIdentity.value == body.value))
    if other is not None:
        raise HTTPException(409, f"identity {body.kind} is already linked to streamer {other.streamer_id}")
    session.add(LinkedIdentity(streamer_id=streamer.id, kind=body.kind, value=body.value, note=body.note))
    crud.audit(session, who=who, action="streamer.link_identity", entity="streamer", entity_id=streamer.id,
               details={"kind": body.kind})
    session.commit()
    session.refresh(streamer)
    return streamer
