"""Review pages beyond the queue: a streamer's timeline, the blacklist and its appeals, and an
overview for a supervisor. Server-rendered like the queue; charts are inline SVG drawn here, so
nothing loads from outside the service."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy import func, select

from serve import crud
from serve.deps import IdPath, SessionDep, SettingsDep
from serve.tables import (Appeal, BlacklistEntry, Flag, LinkedIdentity, PlatformAccount, Review, Sanction, Stream,
                          Streamer)
from serve.ui import TEMPLATES, UiReviewer, _same_origin

__all__ = ["router", "bar_chart"]

router = APIRouter(prefix="/ui", include_in_schema=False)
OVERVIEW_DAYS = 30


def _utc(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


def bar_chart(counts: list[tuple[str, int]], chart_id: str, title: str, width: int = 560, bar_h: int = 18) -> Markup:
    """Horizontal bars as inline SVG, one row per (name, count); accessible by its title and text."""
    top = max((c for _, c in counts), default=0) or 1
    label_w, h = 210, bar_h + 6
    rows = []
    for i, (name, count) in enumerate(counts):
        y = i * h
        w = int((width - label_w - 50) * count / top)
        rows.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">{escape(name)}</text>'
                    f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar_h}" class="bar"><title>'
                    f'{escape(name)}: {count}</title></rect>'
                    f'<text x="{label_w + w + 4}" y="{y + bar_h - 4}" class="n">{count}</text>')
    height = max(h * len(counts), h)
    body = "".join(rows) or f'<text x="4" y="{bar_h}">none</text>'
    return Markup(f'<svg id="{chart_id}" class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
                  f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>{body}</svg>')


@router.get("/streamers/{streamer_id}", response_class=HTMLResponse)
def streamer_page(request: Request, streamer_id: IdPath, session: SessionDep, who: UiReviewer) -> Response:
    """Everything about one streamer on one timeline: flags, decisions, sanctions, blacklist
    entries and appeals, newest first."""
    streamer = crud.get_or_404(session, Streamer, streamer_id, "streamer")
    flags = list(session.scalars(select(Flag).where(Flag.streamer_id == streamer_id)))
    flag_ids = [f.id for f in flags]
    reviews = list(session.scalars(select(Review).where(Review.flag_id.in_(flag_ids)))) if flag_ids else []
    sanctions = list(session.scalars(select(Sanction).where(Sanction.streamer_id == streamer_id)))
    entries = list(session.scalars(select(BlacklistEntry).where(BlacklistEntry.streamer_id == streamer_id)))
    appeals = list(session.scalars(select(Appeal).where(Appeal.entry_id.in_([e.id for e in entries])))) \
        if entries else []
    events = []
    for f in flags:
        events.append((f.created_at, "flag", f"Flag {f.id}: {f.label} ({f.severity}), «{f.evidence}», {f.status}",
                       f"/ui/flags/{f.id}"))
    for r in reviews:
        events.append((r.at, "decision", f"{r.reviewer_name} {r.decision}ed flag {r.flag_id}: {r.reason}",
                       f"/ui/flags/{r.flag_id}"))
    for s in sanctions:
        until = f" until {_utc(s.ends_at):%Y-%m-%d}" if s.ends_at else ""
        events.append((s.created_at, "sanction", f"{s.level}{until}: {s.reason}" + (" (lifted)" if s.lifted_at else ""),
                       None))
    for e in entries:
        events.append((e.created_at, "blacklist", f"Blacklist entry {e.id} ({e.status}): {e.facts}", "/ui/blacklist"))
    for a in appeals:
        events.append((a.filed_at, "appeal", f"Appeal {a.id} by {a.filed_by} on entry {a.entry_id}: {a.status}"
                       + (f" ({a.decided_by}: {a.decision_reason})" if a.decided_by else ""), "/ui/blacklist"))
        if a.decided_at:
            events.append((a.decided_at, "appeal", f"Appeal {a.id} {a.status} by {a.decided_by}", "/ui/blacklist"))
    events.sort(key=lambda ev: _utc(ev[0]), reverse=True)
    accounts = list(session.scalars(select(PlatformAccount).where(PlatformAccount.streamer_id == streamer_id)))
    identities = session.scalar(select(func.count(LinkedIdentity.id)).where(LinkedIdentity.streamer_id == streamer_id))
    streams = list(session.scalars(select(Stream).where(Stream.streamer_id == streamer_id)))
    return TEMPLATES.TemplateResponse(request, "streamer.html", {
        "who": who, "streamer": streamer, "events": events, "accounts": accounts, "streams": streams,
        "identities": identities, "counts": Counter(f.status for f in flags)})


@router.get("/blacklist", response_class=HTMLResponse)
def blacklist_page(request: Request, session: SessionDep, who: UiReviewer, error: str | None = None) -> Response:
    """Blacklist entries and their appeals; pending appeals can be decided here."""
    entries = list(session.scalars(select(BlacklistEntry).order_by(BlacklistEntry.id.desc()).limit(500)))
    names = {s.id: s.display_name for s in session.scalars(select(Streamer).where(
        Streamer.id.in_({e.streamer_id for e in entries})))} if entries else {}
    appeals = list(session.scalars(select(Appeal).order_by(Appeal.status != "pending", Appeal.id.desc()).limit(500)))
    return TEMPLATES.TemplateResponse(request, "blacklist.html", {
        "who": who, "entries": entries, "names": names, "appeals": appeals, "error": error})


@router.post("/appeals/{appeal_id}/decision")
def appeal_decide(request: Request, appeal_id: IdPath, session: SessionDep, settings: SettingsDep, who: UiReviewer,
                  decision: Annotated[str, Form(pattern="^(grant|reject)$")],
                  reason: Annotated[str, Form(min_length=1, max_length=5000)]) -> Response:
    _same_origin(request)
    try:
        crud.decide_appeal(session, appeal_id=appeal_id, decision=decision, reason=reason.strip(), who=who,
                           settings=settings)
    except HTTPException as exc:  # shown on the page: e.g. the confirming reviewer may not decide it
        session.rollback()
        return blacklist_page(request, session, who, error=f"appeal {appeal_id}: {exc.detail}")
    return RedirectResponse("/ui/blacklist", status_code=303)


@router.get("/overview", response_class=HTMLResponse)
def overview_page(request: Request, session: SessionDep, who: UiReviewer) -> Response:
    """For a supervisor: flags per day, label and platform over the last OVERVIEW_DAYS days, and
    how long the open queue has been waiting."""
    now = datetime.now(timezone.utc)
    since = now - timedelta(days=OVERVIEW_DAYS)
    rows = session.execute(select(Flag.created_at, Flag.label, Flag.platform, Flag.status)
                           .where(Flag.created_at >= since)).all()
    per_day = Counter(_utc(t).date().isoformat() for t, _, _, _ in rows)
    days = [(since + timedelta(days=i + 1)).date().isoformat() for i in range(OVERVIEW_DAYS)]
    open_ages = sorted((now - _utc(t)).total_seconds() / 3600 for (t,) in session.execute(
        select(Flag.created_at).where(Flag.status == "open")).all())
    queue = {"open": len(open_ages), "oldest_h": open_ages[-1] if open_ages else None,
             "median_h": open_ages[len(open_ages) // 2] if open_ages else None}
    decided = Counter(status for _, _, _, status in rows)
    return TEMPLATES.TemplateResponse(request, "overview.html", {
        "who": who, "queue": queue, "decided": decided, "days": OVERVIEW_DAYS, "total": len(rows),
        "per_day": bar_chart([(d[5:], per_day.get(d, 0)) for d in days if per_day.get(d) or d >= days[-7]],
                             "per-day", "Flags per day"),
        "per_label": bar_chart(Counter(lb for _, lb, _, _ in rows).most_common(), "per-label", "Flags per label"),
        "per_platform": bar_chart(Counter(p or "(no platform)" for _, _, p, _ in rows).most_common(),
                                  "per-platform", "Flags per platform")})
