"""Database operations behind the routes. Helpers take keyword-only arguments; the ones that
change state also write the audit log and the webhook outbox in the same transaction, so a
decision is never recorded without its audit row (or the other way round)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi import HTTPException
from sqlalchemy import BigInteger, func, literal, or_, select, update
from sqlalchemy.orm import Session

from serve.auth import Principal
from serve.errors import invalid
from serve.evidence import append_package
from serve.policy import PolicyOutcome, apply_policy, record_blacklist_change
from serve.settings import Settings
from serve.tables import (SEVERITY_RANK, ApiKey, Appeal, AuditLog, BlacklistEntry, BlacklistEvent, FindingRow, Flag,
                          Recording, Review, Sanction, Stream, Streamer, WebhookDelivery)

__all__ = ["audit", "claim_flag", "decide_appeal", "decide_flag", "decode_cursor", "emit_event", "encode_cursor",
           "file_appeal", "flags_from_recording", "get_or_404", "list_blacklist", "list_flags", "now"]


def now() -> datetime:
    return datetime.now(timezone.utc)


def get_or_404(session: Session, model, ident: int, what: str):
    row = session.get(model, ident)
    if row is None:
        raise HTTPException(404, f"{what} {ident} not found")
    return row


def audit(session: Session, *, who: Principal | None, action: str, entity: str, entity_id: int | None,
          details: dict | None = None) -> None:
    session.add(AuditLog(actor_key_id=who.key_id if who else None, actor=who.name if who else "system",
                         action=action, entity=entity, entity_id=entity_id, details=details or {}))


def emit_event(session: Session, *, settings: Settings, kind: str, payload: dict) -> str:
    """Write the event to the outbox (one row per receiver); the webhook worker delivers it after
    commit. Each event is numbered among the events of its subject (a flag, a blacklist entry):
    the changes of one subject happen one after another (a flag's decision under its row update,
    an entry's changes under the feed lock), so the numbers follow the order of the changes."""
    event_id = uuid.uuid4().hex
    if not settings.webhook_urls:
        return event_id
    subject = (f"flag:{payload['flag_id']}" if "flag_id" in payload and kind.startswith("flag.")
               else f"blacklist_entry:{payload['entry_id']}" if "entry_id" in payload else None)
    seq = None
    if subject is not None:
        seq = (session.scalar(select(func.max(WebhookDelivery.subject_seq)).where(WebhookDelivery.subject == subject))
               or 0) + 1
    for url in settings.webhook_urls:
        session.add(WebhookDelivery(event_id=event_id, url=url, kind=kind, payload=payload, subject=subject,
                                    subject_seq=seq))
    session.flush()  # the next event of this subject in this transaction counts this one
    return event_id


# --- cursors: the keyset position of a page's last row, "<severity_rank>.<id>" (flags) or "<id>" ---
# Plain digits, so the OpenAPI pattern says exactly which cursors exist: every string the pattern
# allows is a position (before or after every row, if need be), and 18 digits stay below 2**63,
# which both SQLite and PostgreSQL compare against an integer column.
FLAG_CURSOR = r"^[0-9]{1,18}\.[0-9]{1,18}$"
ID_CURSOR = r"^[0-9]{1,18}$"


def encode_cursor(*parts: int) -> str:
    return ".".join(map(str, parts))


def decode_cursor(cursor: str, pattern: str) -> list[int]:
    """The numbers of a cursor of `pattern` (FLAG_CURSOR, ID_CURSOR: the API checks the same pattern
    first); 400 for any other string (the HTML pages take cursors without that check)."""
    if not re.fullmatch(pattern, cursor):
        raise HTTPException(400, "invalid cursor: pass back the next_cursor of a previous page")
    return [int(p) for p in cursor.split(".")]


# --- flags ---
def list_flags(session: Session, *, status: str, label: str | None, streamer_id: int | None, platform: str | None,
               since: datetime | None, until: datetime | None, cursor: str | None, limit: int
               ) -> tuple[list[Flag], str | None]:
    """The queue: most severe first, newest first within a severity; keyset pagination."""
    q = select(Flag).where(Flag.status == status)
    if label:
        q = q.where(Flag.label == label)
    if streamer_id is not None:
        q = q.where(Flag.streamer_id == streamer_id)
    if platform:
        q = q.where(Flag.platform == platform)
    if since:
        q = q.where(Flag.created_at >= since)
    if until:
        q = q.where(Flag.created_at < until)
    if cursor:
        rank, last_id = (literal(v, BigInteger) for v in decode_cursor(cursor, FLAG_CURSOR))  # may pass the int32 columns
        q = q.where(or_(Flag.severity_rank < rank, (Flag.severity_rank == rank) & (Flag.id < last_id)))
    rows = list(session.scalars(q.order_by(Flag.severity_rank.desc(), Flag.id.desc()).limit(limit + 1)))
    nxt = encode_cursor(rows[limit - 1].severity_rank, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], nxt


def _check_clip(path: str | None, settings: Settings) -> str | None:
    """Clip paths from the API must resolve inside a configured root (no ../ or symlink escapes):
    403 for a path outside every root, 404 for one inside that is not a file. Neither is a 422:
    the request is well formed, the server refuses or lacks the file."""
    if path is None:
        return None
    real = Path(path).resolve()
    for root in settings.clip_roots:
        if real.is_relative_to(root.resolve()):
            if not real.is_file():
                raise HTTPException(404, f"clip_path {path!r}: no such file")
            return str(real)
    raise HTTPException(403, f"clip_path {path!r} is outside the configured clip roots"
                             + ("" if settings.clip_roots else " (none are configured: LIVEGUARD_CLIP_ROOTS)"))


def create_flag(session: Session, *, data, settings: Settings, who: Principal) -> Flag:
    stream = get_or_404(session, Stream, data.stream_id, "stream") if data.stream_id is not None else None
    if data.recording_id is not None:
        get_or_404(session, Recording, data.recording_id, "recording")
    from claims.taxonomy import LABELS  # imported late: the claims package loads its classifier

    label = LABELS[data.label]
    severity = data.severity or label.severity
    flag = Flag(label=data.label, t0_ms=round(data.t0 * 1000), t1_ms=round(data.t1 * 1000), score=data.score,
                evidence=data.evidence, segment_text=data.segment_text, decided_by=data.decided_by,
                legal_basis=label.legal_basis, severity=severity, severity_rank=SEVERITY_RANK[severity],
                model_ids=data.model_ids, clip_path=_check_clip(data.clip_path, settings),
                stream_id=data.stream_id, recording_id=data.recording_id,
                streamer_id=stream.streamer_id if stream else None, platform=stream.platform if stream else None)
    session.add(flag)
    session.flush()
    audit(session, who=who, action="flag.create", entity="flag", entity_id=flag.id, details={"label": flag.label})
    emit_event(session, settings=settings, kind="flag.created", payload={"flag_id": flag.id, "label": flag.label,
                                                                         "severity": flag.severity})
    session.commit()
    return flag


def flags_from_recording(session: Session, recording: Recording, *, stream: Stream | None = None,
                         clip_path: str | None = None, clip_for=None) -> tuple[list[Flag], int, list[Flag]]:
    """Turn the scanner's findings for one recording into flags; findings already flagged are
    skipped, so running it again adds nothing. `clip_for(finding) -> path | None`: an evidence clip
    per finding (else `clip_path` for all). Open flags made earlier without a stream (a scan with no
    attribution) are attached to `stream` now, and get a clip if they had none. Returns (created,
    how many existed, the existing ones attached). The caller commits."""
    findings = list(session.scalars(select(FindingRow).where(FindingRow.recording_id == recording.id)
                                    .order_by(FindingRow.t0_ms, FindingRow.id)))
    existing = {f.finding_id: f for f in session.scalars(
        select(Flag).where(Flag.finding_id.in_([f.id for f in findings])))}
    created, attached = [], []
    for f in findings:
        flag = existing.get(f.id)
        if flag is not None:
            if flag.status == "open" and flag.streamer_id is None and stream is not None:
                flag.stream_id, flag.streamer_id, flag.platform = stream.id, stream.streamer_id, stream.platform
                if not flag.clip_path:
                    flag.clip_path = clip_for(f) if clip_for else clip_path
                attached.append(flag)
            continue
        flag = Flag(finding_id=f.id, recording_id=recording.id, label=f.label, t0_ms=f.t0_ms, t1_ms=f.t1_ms,
                    score=f.score, evidence=f.evidence, segment_text=f.segment_text, decided_by=f.decided_by,
                    legal_basis=f.legal_basis, severity=f.severity, severity_rank=SEVERITY_RANK.get(f.severity, 0),
                    model_ids={"asr": f.asr_model, "claims": f.decided_by},
                    clip_path=clip_for(f) if clip_for else clip_path,
                    stream_id=stream.id if stream else None, streamer_id=stream.streamer_id if stream else None,
                    platform=stream.platform if stream else None)
        session.add(flag)
        created.append(flag)
    session.flush()
    return created, len(existing), attached


def ingest_recording(session: Session, *, data, settings: Settings, who: Principal) -> tuple[list[Flag], int]:
    if data.recording_id is not None:
        rec = get_or_404(session, Recording, data.recording_id, "recording")
    else:
        rec = session.scalar(select(Recording).where(Recording.sha256 == data.sha256))
        if rec is None:
            raise HTTPException(404, f"recording with sha256 {data.sha256} not found")
    stream = get_or_404(session, Stream, data.stream_id, "stream") if data.stream_id is not None else None
    created, existing, attached = flags_from_recording(session, rec, stream=stream,
                                                       clip_path=_check_clip(data.clip_path, settings))
    audit(session, who=who, action="flag.ingest", entity="recording", entity_id=rec.id,
          details={"created": [f.id for f in created], "existing": existing, "attached": [f.id for f in attached]})
    for f in created:
        emit_event(session, settings=settings, kind="flag.created",
                   payload={"flag_id": f.id, "label": f.label, "severity": f.severity})
    session.commit()
    return created, existing, attached


def claim_flag(session: Session, *, flag_id: int, who: Principal, lease_s: int) -> Flag:
    """Lease the flag to this key; a conditional UPDATE so two moderators cannot both win."""
    t = now()
    res = session.execute(update(Flag).where(
        Flag.id == flag_id, Flag.status == "open",
        or_(Flag.lease_key_id.is_(None), Flag.lease_expires_at < t, Flag.lease_key_id == who.key_id))
        .values(lease_key_id=who.key_id, lease_expires_at=t + timedelta(seconds=lease_s)))
    if res.rowcount == 0:
        session.rollback()
        flag = get_or_404(session, Flag, flag_id, "flag")
        if flag.status != "open":
            raise HTTPException(409, f"flag {flag_id} is already {flag.status}")
        holder = session.get(ApiKey, flag.lease_key_id)
        raise HTTPException(409, f"flag {flag_id} is being reviewed by {holder.name if holder else 'someone'} "
                                 f"until {flag.lease_expires_at.isoformat()}")
    audit(session, who=who, action="flag.claim", entity="flag", entity_id=flag_id)
    session.commit()
    return session.get(Flag, flag_id, populate_existing=True)


def decide_flag(session: Session, *, flag_id: int, decision: str, reason: str, who: Principal,
                settings: Settings) -> tuple[Flag, PolicyOutcome, int | None]:
    t = now()
    # One conditional UPDATE moves the flag out of "open": of two reviewers deciding at once, on
    # SQLite or PostgreSQL, exactly one matches; the other gets 409 below.
    res = session.execute(update(Flag).where(
        Flag.id == flag_id, Flag.status == "open",
        or_(Flag.lease_key_id.is_(None), Flag.lease_key_id == who.key_id, Flag.lease_expires_at <= t))
        .values(status="confirmed" if decision == "confirm" else "dismissed", decided_at=t,
                lease_key_id=None, lease_expires_at=None))
    if res.rowcount == 0:
        session.rollback()
        flag = get_or_404(session, Flag, flag_id, "flag")
        if flag.status != "open":
            raise HTTPException(409, f"flag {flag_id} is already {flag.status}")
        raise HTTPException(409, f"flag {flag_id} is claimed by another reviewer until "
                                 f"{flag.lease_expires_at.isoformat()}")
    flag = session.get(Flag, flag_id, populate_existing=True)
    review = Review(flag_id=flag.id, reviewer_key_id=who.key_id, reviewer_name=who.name, decision=decision,
                    reason=reason, at=t)
    session.add(review)
    session.flush()
    outcome, evidence_id = PolicyOutcome([], None), None
    if decision == "confirm":
        evidence_id = append_package(session, flag, review, settings.evidence_dir).id
        outcome = apply_policy(session, flag, settings, now=t)
    audit(session, who=who, action=f"flag.{decision}", entity="flag", entity_id=flag.id,
          details={"reason": reason, "evidence_record_id": evidence_id,
                   "sanctions": [s.level for s in outcome.sanctions],
                   "blacklist_entry_id": outcome.blacklist_entry.id if outcome.blacklist_entry else None})
    emit_event(session, settings=settings, kind="flag.decided",
               payload={"flag_id": flag.id, "decision": decision, "reason": reason, "reviewer": who.name})
    if outcome.blacklist_entry:
        emit_event(session, settings=settings, kind="blacklist.added",
                   payload={"entry_id": outcome.blacklist_entry.id, "streamer_id": flag.streamer_id})
    session.commit()
    return flag, outcome, evidence_id


# --- blacklist ---
def list_blacklist(session: Session, *, since: int, limit: int, status: str | None = None
                   ) -> tuple[list[BlacklistEntry], int]:
    """Entries changed after event `since`, in the order of their latest change, and the new cursor."""
    events = list(session.execute(select(BlacklistEvent.id, BlacklistEvent.entry_id)
                                  .where(BlacklistEvent.id > since).order_by(BlacklistEvent.id)))
    seen: dict[int, int] = {}
    for ev_id, entry_id in events:
        seen.pop(entry_id, None)
        seen[entry_id] = ev_id
    ordered = list(seen.items())[:limit]  # by latest change
    if len(seen) > limit:
        cursor = ordered[-1][1]
        # entries that changed again after the cursor show up on the next page as well: harmless
    else:
        cursor = events[-1][0] if events else since
    rows = {e.id: e for e in session.scalars(select(BlacklistEntry).where(
        BlacklistEntry.id.in_([i for i, _ in ordered])))}
    out = [rows[i] for i, _ in ordered if status is None or rows[i].status == status]
    return out, cursor


def file_appeal(session: Session, *, entry_id: int, statement: str, filed_by: str, who: Principal,
                settings: Settings) -> Appeal:
    entry = get_or_404(session, BlacklistEntry, entry_id, "blacklist entry")
    if entry.status != "active":
        raise HTTPException(409, f"blacklist entry {entry_id} is {entry.status}; only active entries can be appealed")
    appeal = Appeal(entry_id=entry.id, statement=statement, filed_by=filed_by)
    session.add(appeal)
    session.flush()
    record_blacklist_change(session, entry.id, "appealed")
    audit(session, who=who, action="appeal.file", entity="appeal", entity_id=appeal.id, details={"filed_by": filed_by})
    emit_event(session, settings=settings, kind="blacklist.appealed", payload={"entry_id": entry.id,
                                                                               "appeal_id": appeal.id})
    session.commit()
    return appeal


def decide_appeal(session: Session, *, appeal_id: int, decision: str, reason: str, who: Principal,
                  settings: Settings) -> Appeal:
    appeal = session.get(Appeal, appeal_id, with_for_update=True)
    if appeal is None:
        raise HTTPException(404, f"appeal {appeal_id} not found")
    if appeal.status != "pending":
        raise HTTPException(409, f"appeal {appeal_id} was already decided ({appeal.status})")
    entry = session.get(BlacklistEntry, appeal.entry_id, with_for_update=True)
    confirmed_by = set(session.scalars(select(Review.reviewer_key_id).where(
        Review.flag_id.in_(entry.flag_ids or []), Review.decision == "confirm")))
    if who.key_id in confirmed_by:
        raise HTTPException(403, "an appeal must be decided by someone other than the reviewer who confirmed "
                                 "the flags behind the entry")
    t = now()
    appeal.status = "granted" if decision == "grant" else "rejected"
    appeal.decided_by, appeal.decided_at, appeal.decision_reason = who.name, t, reason
    if decision == "grant" and entry.status == "active":
        entry.status, entry.lifted_at, entry.lift_reason = "lifted", t, f"appeal {appeal.id} granted: {reason}"
        for s in session.scalars(select(Sanction).where(Sanction.streamer_id == entry.streamer_id,
                                                        Sanction.level == "blacklist", Sanction.lifted_at.is_(None))):
            s.lifted_at = t
        streamer = session.get(Streamer, entry.streamer_id)
        streamer.status = "active"
        record_blacklist_change(session, entry.id, "lifted", t)
        emit_event(session, settings=settings, kind="blacklist.lifted", payload={"entry_id": entry.id})
    else:
        record_blacklist_change(session, entry.id, "upheld", t)
    audit(session, who=who, action=f"appeal.{decision}", entity="appeal", entity_id=appeal.id,
          details={"reason": reason, "entry_id": entry.id})
    session.commit()
    return appeal
