"""The sanctions policy applied when a moderator confirms a flag.

Ladder (CLAIMS_TAXONOMY.md): warning -> limit features -> limit traffic -> suspend stream ->
timed ban -> close account -> no re-registration -> blacklist. The default policy uses three
rungs: a confirmed `medium`/`low` flag is a warning, a confirmed `high` flag suspends the stream,
and `blacklist_after` confirmed flags within `window_days` put the streamer on the blacklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from serve.settings import Settings
from serve.tables import BlacklistEntry, BlacklistEvent, EvidenceRecord, Flag, Sanction, Streamer

__all__ = ["LADDER", "PolicyOutcome", "apply_policy", "expire_due"]

LADDER = ("warning", "limit_features", "limit_traffic", "suspend_stream", "timed_ban", "close_account",
          "no_reregistration", "blacklist")
_DAYS_PER_YEAR = 366  # rounding up keeps "at least N years" true across leap years


@dataclass
class PolicyOutcome:
    sanctions: list[Sanction]
    blacklist_entry: BlacklistEntry | None


def apply_policy(session: Session, flag: Flag, settings: Settings, now: datetime | None = None) -> PolicyOutcome:
    """Called in the decision's transaction, after `flag` is marked confirmed."""
    now = now or datetime.now(timezone.utc)
    pol = settings.policy
    out = PolicyOutcome([], None)
    if flag.streamer_id is None:
        return out  # nobody to sanction: a recording not tied to a registered streamer
    streamer = session.get(Streamer, flag.streamer_id, with_for_update=True)
    if flag.severity in pol.suspend_severities:
        out.sanctions.append(Sanction(streamer_id=streamer.id, level="suspend_stream", flag_id=flag.id,
                                      reason=f"confirmed {flag.severity} flag {flag.id} ({flag.label})",
                                      created_at=now, ends_at=now + timedelta(days=pol.suspend_days)))
        if streamer.status == "active":
            streamer.status = "suspended"
    elif flag.severity in pol.warn_severities:
        out.sanctions.append(Sanction(streamer_id=streamer.id, level="warning", flag_id=flag.id, created_at=now,
                                      reason=f"confirmed {flag.severity} flag {flag.id} ({flag.label})"))

    window_start = now - timedelta(days=pol.window_days)
    recent = list(session.scalars(select(Flag).where(
        Flag.streamer_id == streamer.id, Flag.status == "confirmed", Flag.decided_at >= window_start)
        .order_by(Flag.id)))
    active = session.scalar(select(func.count()).select_from(BlacklistEntry).where(
        BlacklistEntry.streamer_id == streamer.id, BlacklistEntry.status == "active"))
    if len(recent) >= pol.blacklist_after and not active:
        ends = now + timedelta(days=pol.blacklist_days) if pol.blacklist_days else None
        facts = "; ".join(f"flag {f.id}: {f.label} at {f.t0_ms / 1000:.1f}-{f.t1_ms / 1000:.1f}s: \"{f.evidence}\""
                          for f in recent)
        ids = [f.id for f in recent]
        entry = BlacklistEntry(
            streamer_id=streamer.id, created_at=now, starts_at=now, duration_days=pol.blacklist_days, ends_at=ends,
            facts=f"{len(recent)} confirmed violations within {pol.window_days} days: {facts}",
            legal_basis="; ".join(sorted({f.legal_basis for f in recent if f.legal_basis})) or "see flags",
            flag_ids=ids,
            evidence_record_ids=list(session.scalars(select(EvidenceRecord.id).where(EvidenceRecord.flag_id.in_(ids))
                                                     .order_by(EvidenceRecord.seq))),
            appeal_route=settings.appeal_route, status="active",
            retain_until=(ends or now) + timedelta(days=_DAYS_PER_YEAR * settings.retention_years))
        session.add(entry)
        session.flush()
        record_blacklist_change(session, entry.id, "added", now)
        out.sanctions.append(Sanction(streamer_id=streamer.id, level="blacklist", flag_id=flag.id, created_at=now,
                                      ends_at=ends, reason=f"blacklist entry {entry.id}"))
        streamer.status = "blacklisted"
        out.blacklist_entry = entry
    session.add_all(out.sanctions)
    session.flush()
    return out


FEED_LOCK = 0x4C47_4246  # "LGBF": the advisory lock that orders blacklist change numbers


def record_blacklist_change(session: Session, entry_id: int, kind: str, at: datetime | None = None) -> BlacklistEvent:
    """Add a blacklist change event: its id is the regulators' `since` cursor, so ids must become
    visible in id order. A PostgreSQL sequence hands out ids at insert, not at commit: a slow
    transaction holding id 5 would commit after a reader had already pulled past 6, and change 5
    would never reach that reader. So numbering is serialised: a transaction-level advisory lock is
    taken before the event gets its id and held until commit, and the next change waits for it,
    then gets a higher id. (SQLite admits one writer at a time anyway.) Changes to the blacklist
    are rare next to reads, so the wait costs little."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FEED_LOCK})
    event = BlacklistEvent(entry_id=entry_id, kind=kind, **({"at": at} if at is not None else {}))
    session.add(event)
    session.flush()  # the id is taken now, under the lock
    return event


def expire_due(session: Session, now: datetime | None = None, settings: Settings | None = None) -> int:
    """Mark entries past their end as expired (recorded as an event, never deleted); commits.
    With `settings`, a blacklist.expired webhook event is queued for each."""
    now = now or datetime.now(timezone.utc)
    due = list(session.scalars(select(BlacklistEntry).where(
        BlacklistEntry.status == "active", BlacklistEntry.ends_at.is_not(None), BlacklistEntry.ends_at <= now)))
    for entry in due:
        entry.status = "expired"
        record_blacklist_change(session, entry.id, "expired", now)
        if settings is not None:
            from serve.crud import emit_event  # crud imports this module

            emit_event(session, settings=settings, kind="blacklist.expired", payload={"entry_id": entry.id})
        streamer = session.get(Streamer, entry.streamer_id)
        if streamer.status == "blacklisted":
            streamer.status = "active"
    if due:
        session.commit()
    return len(due)
