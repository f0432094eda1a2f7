from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from serve.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: SessionDep) -> dict:
    """Public: the process is up and the database answers."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
