from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select

from serve.deps import AdminDep, SessionDep
from serve.tables import BlacklistEntry, EvidenceRecord, Flag, WebhookDelivery

router = APIRouter(tags=["admin"])


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain; version=0.0.4": {}}}})
def metrics(request: Request, session: SessionDep, who: AdminDep) -> PlainTextResponse:
    """Prometheus text format (scrape with an admin key as bearer token)."""
    flags = {(("status", s),): n for s, n in session.execute(select(Flag.status, func.count()).group_by(Flag.status))}
    bl = {(("status", s),): n for s, n in session.execute(
        select(BlacklistEntry.status, func.count()).group_by(BlacklistEntry.status))}
    chain = session.scalar(select(func.count()).select_from(EvidenceRecord)) or 0
    pending = session.scalar(select(func.count()).select_from(WebhookDelivery)
                             .where(WebhookDelivery.delivered_at.is_(None))) or 0
    text = request.app.state.metrics.render({
        "liveguard_flags": ("Flags by review status.", flags),
        "liveguard_blacklist_entries": ("Blacklist entries by status.", bl),
        "liveguard_evidence_chain_length": ("Records in the evidence hash chain.", {(): chain}),
        "liveguard_webhook_pending": ("Webhook deliveries not yet acknowledged.", {(): pending}),
    })
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
