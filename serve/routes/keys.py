from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from serve import crud
from serve.auth import create_key
from serve.deps import IdPath, AdminDep, SessionDep
from serve.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, AuditPublic
from serve.tables import ApiKey, AuditLog

router = APIRouter(prefix="/keys", tags=["admin"])
audit_router = APIRouter(prefix="/audit", tags=["admin"])


@router.post("", response_model=ApiKeyCreated, status_code=201)
def create(body: ApiKeyCreate, session: SessionDep, who: AdminDep) -> ApiKeyCreated:
    """The token is in this response only; the server keeps its SHA-256."""
    row, token = create_key(session, name=body.name, role=body.role)
    crud.audit(session, who=who, action="key.create", entity="api_key", entity_id=row.id,
               details={"name": row.name, "role": row.role})
    session.commit()
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), token=token)


@router.get("", response_model=list[ApiKeyPublic])
def list_keys(session: SessionDep, who: AdminDep) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


@router.post("/{key_id}/revoke", response_model=ApiKeyPublic)
def revoke(key_id: IdPath, session: SessionDep, who: AdminDep) -> ApiKey:
    row = crud.get_or_404(session, ApiKey, key_id, "API key")
    if row.revoked_at is not None:
        raise HTTPException(409, f"API key {key_id} is already revoked")
    row.revoked_at = crud.now()
    crud.audit(session, who=who, action="key.revoke", entity="api_key", entity_id=row.id)
    session.commit()
    return row


@audit_router.get("", response_model=list[AuditPublic])
def audit_log(session: SessionDep, who: AdminDep, entity: str | None = Query(None, max_length=32),
              entity_id: int | None = Query(None, ge=1, le=2_147_483_647), after_id: int = Query(0, ge=0, le=2_147_483_647),
              limit: int = Query(100, ge=1, le=1000)) -> list[AuditLog]:
    """Who did what, when and why; page with after_id."""
    q = select(AuditLog).where(AuditLog.id > after_id).order_by(AuditLog.id).limit(limit)
    if entity:
        q = q.where(AuditLog.entity == entity)
    if entity_id is not None:
        q = q.where(AuditLog.entity_id == entity_id)
    return list(session.scalars(q))
