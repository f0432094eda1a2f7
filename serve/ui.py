"""The review page: server-rendered HTML (Jinja2) with a little vanilla JavaScript, served by the
same app, no CDN and no front-end build.

A moderator signs in with their API key once; it is kept in an HttpOnly, SameSite=Strict cookie
(the SameSite rule is what stops other sites from posting decisions with it). Opening a flag
claims it (a lease), so two people never review the same flag at once.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import select

from ingest.recorder import clip_span
from serve import crud
from serve.auth import ADMIN, KEY_COOKIE, MODERATOR, Principal, RoleChecker, hash_token
from serve.deps import IdPath, SessionDep, SettingsDep
from serve.stills import face_crop_jpeg, still_jpeg
from serve.tables import ApiKey, Flag, Recording, Stream, TranscriptSegment

__all__ = ["router", "static_app"]

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TRANSCRIPT_CONTEXT_MS = 20_000  # transcript shown around the flagged words

router = APIRouter(prefix="/ui", include_in_schema=False)
_reviewer = RoleChecker(MODERATOR, ADMIN)


class _SignIn(Exception):
    pass


def ui_reviewer(request: Request) -> Principal:
    """Like the API's role check, but a missing or bad key sends the browser to the sign-in page."""
    try:
        return _reviewer(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise _SignIn() from None
        raise


UiReviewer = Annotated[Principal, Depends(ui_reviewer)]


def static_app() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)


def highlight(text: str, words: str) -> Markup:
    """The segment text, escaped, with the offending words in <mark>."""
    i = text.find(words) if words else -1
    if i < 0:
        return Markup(html.escape(text))
    return Markup(html.escape(text[:i]) + "<mark>" + html.escape(words) + "</mark>" + html.escape(text[i + len(words):]))


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "cross-site form post refused")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str | None = None) -> Response:
    return TEMPLATES.TemplateResponse(request, "login.html", {"error": error})


@router.post("/login")
def login(request: Request, session: SessionDep, key: Annotated[str, Form(max_length=200)]) -> Response:
    _same_origin(request)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(key.strip())))
    if row is None or row.revoked_at is not None or row.role not in (MODERATOR, ADMIN):
        return TEMPLATES.TemplateResponse(request, "login.html", {"error": "not a moderator or admin key"},
                                          status_code=401)
    resp = RedirectResponse("/ui", status_code=303)
    resp.set_cookie(KEY_COOKIE, key.strip(), httponly=True, samesite="strict", path="/")
    return resp


@router.post("/logout")
def logout(request: Request) -> Response:
    _same_origin(request)
    resp = RedirectResponse("/ui/login", status_code=303)
    resp.delete_cookie(KEY_COOKIE, path="/")
    return resp


@router.get("", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, who: UiReviewer, label: str | None = None,
               cursor: str | None = None) -> Response:
    rows, nxt = crud.list_flags(session, status="open", label=label or None, streamer_id=None, platform=None,
                                since=None, until=None, cursor=cursor, limit=50)
    return TEMPLATES.TemplateResponse(request, "queue.html", {"flags": rows, "next": nxt, "who": who,
                                                              "label": label or ""})


@router.get("/flags/{flag_id}", response_class=HTMLResponse)
def flag_page(request: Request, flag_id: IdPath, session: SessionDep, settings: SettingsDep,
              who: UiReviewer) -> Response:
    flag = crud.get_or_404(session, Flag, flag_id, "flag")
    conflict = None
    if flag.status == "open":
        try:
            flag = crud.claim_flag(session, flag_id=flag_id, who=who, lease_s=settings.lease_seconds)
        except HTTPException as exc:
            conflict = exc.detail
    segs = []
    if flag.recording_id:
        segs = list(session.scalars(select(TranscriptSegment).where(
            TranscriptSegment.recording_id == flag.recording_id,
            TranscriptSegment.t1_ms >= flag.t0_ms - TRANSCRIPT_CONTEXT_MS,
            TranscriptSegment.t0_ms <= flag.t1_ms + TRANSCRIPT_CONTEXT_MS).order_by(TranscriptSegment.t0_ms)))
    transcript = [{"t0": s.t0_ms / 1000, "t1": s.t1_ms / 1000,
                   "html": highlight(s.text, flag.evidence) if s.t0_ms <= flag.t1_ms and s.t1_ms >= flag.t0_ms
                   else Markup(html.escape(s.text)), "hit": s.t0_ms <= flag.t1_ms and s.t1_ms >= flag.t0_ms}
                  for s in segs]
    if not transcript:
        transcript = [{"t0": flag.t0_ms / 1000, "t1": flag.t1_ms / 1000, "hit": True,
                       "html": highlight(flag.segment_text or flag.evidence, flag.evidence)}]
    stream = session.get(Stream, flag.stream_id) if flag.stream_id else None
    recording = session.get(Recording, flag.recording_id) if flag.recording_id else None
    has_clip = bool(flag.clip_path and Path(flag.clip_path).is_file())
    span = clip_span(flag.clip_path) if has_clip else None  # the clip's note, read once per page
    return TEMPLATES.TemplateResponse(request, "flag.html", {
        "flag": flag, "transcript": transcript, "stream": stream, "recording": recording, "who": who,
        "conflict": conflict, "has_clip": has_clip, "stills": _still_times(flag, span) if has_clip else [],
        "face_flag": is_face_flag(flag),
        "clip_at": _claim_in_clip(flag, span) if has_clip else None})


def _claim_in_clip(flag: Flag, span: tuple[float, float] | None) -> tuple[float, float] | None:
    """(start, end) of the claim in seconds into its clip, when the clip's `span` (clip_span) says
    where it was cut."""
    if span is None:
        return None
    return max(0.0, flag.t0_ms / 1000 - span[0]), max(0.0, flag.t1_ms / 1000 - span[0])


# A face finding's evidence names its best frames, in stream seconds ("frames at t=12.0, 15.5 s",
# written by pipeline.impersonation._finding): those are the stills worth showing.
_FACE_FRAMES = re.compile(r"frames at t=([0-9., ]+) s")


def is_face_flag(flag: Flag) -> bool:
    return flag.decided_by.startswith("face:")


def _still_times(flag: Flag, span: tuple[float, float] | None) -> list[float]:
    """Seconds into the clip of the stills shown: a face flag's best frames; otherwise the claim's
    start, middle and end (the clip's first seconds when its `span` does not say where it was cut)."""
    m = _FACE_FRAMES.search(flag.evidence) if is_face_flag(flag) and span else None
    if m:
        times = [float(x) - span[0] for x in m.group(1).replace(" ", "").split(",") if x]
        inside = [round(t, 2) for t in times if 0 <= t <= span[1] - span[0]][:3]
        if inside:
            return inside
    a, b = _claim_in_clip(flag, span) or (0.0, (flag.t1_ms - flag.t0_ms) / 1000)
    return [round(a, 2), round((a + b) / 2, 2), round(b, 2)] if b - a >= 1.0 else [round(a, 2)]


@router.get("/flags/{flag_id}/clip")
def flag_clip(flag_id: IdPath, session: SessionDep, who: UiReviewer) -> FileResponse:
    flag = crud.get_or_404(session, Flag, flag_id, "flag")
    if not flag.clip_path or not Path(flag.clip_path).is_file():
        raise HTTPException(404, f"flag {flag_id} has no clip")
    return FileResponse(flag.clip_path)


@router.get("/flags/{flag_id}/still/{i}.jpg")
def flag_still(flag_id: IdPath, i: int, session: SessionDep, who: UiReviewer, crop: bool = False) -> Response:
    """Still `i` of the flag's clip; `crop=true`: the face in it (face flags)."""
    flag = crud.get_or_404(session, Flag, flag_id, "flag")
    has_clip = bool(flag.clip_path and Path(flag.clip_path).is_file())
    times = _still_times(flag, clip_span(flag.clip_path)) if has_clip else []
    if not 0 <= i < len(times):
        raise HTTPException(404, f"flag {flag_id} has no still {i}")
    data = face_crop_jpeg(flag.clip_path, times[i]) if crop else still_jpeg(flag.clip_path, times[i])
    if data is None:
        raise HTTPException(404, f"the clip of flag {flag_id} has no {'face' if crop else 'picture'} "
                                 f"at {times[i]:.1f} s")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/flags/{flag_id}/decision")
def flag_decide(request: Request, flag_id: IdPath, session: SessionDep, settings: SettingsDep, who: UiReviewer,
                decision: Annotated[str, Form(pattern="^(confirm|dismiss)$")],
                reason: Annotated[str, Form(min_length=1, max_length=5000)]) -> Response:
    _same_origin(request)
    crud.decide_flag(session, flag_id=flag_id, decision=decision, reason=reason.strip() or decision, who=who,
                     settings=settings)
    return RedirectResponse("/ui", status_code=303)


def install(app) -> None:
    """Routes, static files, and the redirect to sign-in for browsers without a key."""
    from serve import ui_pages  # it builds on this module

    app.include_router(router)
    app.include_router(ui_pages.router)
    app.mount("/static", static_app(), name="static")

    @app.exception_handler(_SignIn)
    async def _to_sign_in(request: Request, exc: _SignIn) -> Response:
        return RedirectResponse("/ui/login", status_code=303)
