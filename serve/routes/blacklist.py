from __future__ import annotations

import csv
import io
import json
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from serve import crud
from serve.deps import IdPath, ReaderDep, ReviewerDep, SessionDep, SettingsDep
from serve.evidence import chain_head, signed_head
from serve.policy import expire_due
from serve.schemas import (AppealCreate, AppealDecision, AppealPublic, BlacklistExport, BlacklistPublic,
                           BlacklistsPublic)
from serve.tables import Appeal, BlacklistEntry

router = APIRouter(prefix="/blacklist", tags=["blacklist"])
appeals_router = APIRouter(prefix="/appeals", tags=["blacklist"])

CSV_COLUMNS = ["id", "streamer_id", "status", "starts_at", "ends_at", "duration_days", "legal_basis", "facts",
               "appeal_route", "flag_ids", "evidence_record_ids", "lifted_at", "lift_reason", "retain_until",
               "chain_head"]


@router.get("", response_model=BlacklistsPublic)
def list_entries(session: SessionDep, settings: SettingsDep, who: ReaderDep, since: int = Query(0, ge=0, le=2_147_483_647),
                 limit: int = Query(100, ge=1, le=1000),
                 status: Literal["active", "lifted", "expired"] | None = None) -> BlacklistsPublic:
    """Entries added or changed after the `since` cursor (0: everything), oldest change first."""
    expire_due(session, settings=settings)
    rows, nxt = crud.list_blacklist(session, since=since, limit=limit, status=status)
    return BlacklistsPublic(data=[BlacklistPublic.model_validate(r) for r in rows], next_since=nxt)


@router.get("/export", response_model=BlacklistExport,
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def export(request: Request, session: SessionDep, settings: SettingsDep, who: ReaderDep, format: Literal["json", "csv"] = "json",
           since: int = Query(0, ge=0, le=2_147_483_647), limit: int = Query(1000, ge=1, le=10000)):
    """For cross-platform sharing: the entries plus the evidence chain head, as JSON or CSV
    (CSV: a chain_head column on every row, and X-LiveGuard-Chain-Head / X-LiveGuard-Next-Since headers)."""
    expire_due(session, settings=settings)
    rows, nxt = crud.list_blacklist(session, since=since, limit=limit)
    head, length = chain_head(session)
    tree = signed_head(session, request.app.state.export_signer)
    data = [BlacklistPublic.model_validate(r) for r in rows]
    headers = {"X-LiveGuard-Chain-Head": head, "X-LiveGuard-Chain-Length": str(length),
               "X-LiveGuard-Next-Since": str(nxt), "X-LiveGuard-Tree-Head": json.dumps(tree, separators=(",", ":"))}
    if format == "json":
        body = BlacklistExport(data=data, next_since=nxt, chain_head=head, chain_length=length,
                               exported_at=crud.now(), tree_head=tree)
        return _signed(request, body.model_dump_json().encode(), "application/json", headers)
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_COLUMNS)
    w.writeheader()
    for e in data:
        d = e.model_dump(mode="json")
        w.writerow({k: json.dumps(d[k]) if isinstance(d.get(k), list) else d.get(k) for k in CSV_COLUMNS[:-1]}
                   | {"chain_head": head})
    headers["Content-Disposition"] = 'attachment; filename="liveguard-blacklist.csv"'
    return _signed(request, buf.getvalue().encode(), "text/csv; charset=utf-8", headers)


def _signed(request: Request, body: bytes, media_type: str, headers: dict) -> Response:
    signer = request.app.state.export_signer
    if signer is not None:
        headers = {**headers, **signer.headers(body)}
    return Response(body, media_type=media_type, headers=headers)


@router.get("/{entry_id}", response_model=BlacklistPublic)
def get(entry_id: IdPath, session: SessionDep, settings: SettingsDep, who: ReaderDep) -> BlacklistEntry:
    expire_due(session, settings=settings)
    return crud.get_or_404(session, BlacklistEntry, entry_id, "blacklist entry")


@router.get("/{entry_id}/appeals", response_model=list[AppealPublic])
def list_appeals(entry_id: IdPath, session: SessionDep, who: ReaderDep) -> list[Appeal]:
    crud.get_or_404(session, BlacklistEntry, entry_id, "blacklist entry")
    return list(session.scalars(select(Appeal).where(Appeal.entry_id == entry_id).order_by(Appeal.id)))


@router.post("/{entry_id}/appeals", response_model=AppealPublic, status_code=201)
def file_appeal(entry_id: IdPath, body: AppealCreate, session: SessionDep, settings: SettingsDep,
                who: ReviewerDep) -> Appeal:
    """File an appeal on behalf of the blacklisted person; a person decides it."""
    return crud.file_appeal(session, entry_id=entry_id, statement=body.statement, filed_by=body.filed_by, who=who,
                            settings=settings)


@appeals_router.post("/{appeal_id}/decision", response_model=AppealPublic)
def decide_appeal(appeal_id: IdPath, body: AppealDecision, session: SessionDep, settings: SettingsDep,
                  who: ReviewerDep) -> Appeal:
    """Grant (the entry is lifted, recorded, not deleted) or reject (the entry is upheld)."""
    return crud.decide_appeal(session, appeal_id=appeal_id, decision=body.decision, reason=body.reason, who=who,
                              settings=settings)
