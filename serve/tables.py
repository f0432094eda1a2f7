"""Database tables for scan results (SQLAlchemy 2.0; SQLite by default, PostgreSQL by URL).

Findings and transcript segments are keyed by the recording's content hash and their times in
milliseconds, so scanning the same file again (even renamed or moved) adds nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "Recording", "TranscriptSegment", "FindingRow", "ScanError",
           "Streamer", "PlatformAccount", "LinkedIdentity", "Stream", "Flag", "Review", "Sanction",
           "BlacklistEntry", "BlacklistEvent", "Appeal", "ApiKey", "AuditLog", "EvidenceRecord", "WebhookDelivery",
           "RescanJob", "UtcDateTime", "SEVERITY_RANK"]

SEVERITY_RANK = {"high": 3, "medium": 2, "low": 1}  # queue order: most severe first


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC in and out. SQLite keeps no offset and hands back naive values; this
    puts UTC back so that comparisons in Python never mix naive and aware datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None) if (
            value is not None and dialect.name == "sqlite") else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    path: Mapped[str] = mapped_column(Text)  # where it was last seen
    duration_s: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # when it was broadcast
    first_scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    segments: Mapped[list[TranscriptSegment]] = relationship(back_populates="recording")
    findings: Mapped[list[FindingRow]] = relationship(back_populates="recording")


class TranscriptSegment(Base):
    __tablename__ = "transcript_segments"
    __table_args__ = (UniqueConstraint("recording_id", "t0_ms", "t1_ms", "model_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    t0_ms: Mapped[int] = mapped_column(BigInteger)  # ms: a stream may run for months
    t1_ms: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8))
    hallucination: Mapped[bool] = mapped_column(Boolean, default=False)
    hallucination_reason: Mapped[str | None] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(String(128))

    recording: Mapped[Recording] = relationship(back_populates="segments")


class FindingRow(Base):
    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("recording_id", "label", "t0_ms", "t1_ms", "decided_by"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    label: Mapped[str] = mapped_column(String(64), index=True)
    t0_ms: Mapped[int] = mapped_column(BigInteger)  # ms: a stream may run for months
    t1_ms: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)
    segment_text: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(8))
    asr_model: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    recording: Mapped[Recording] = relationship(back_populates="findings")


class ScanError(Base):
    """Files that could not be (fully) checked: kept so a failed re-scan is never silent."""

    __tablename__ = "scan_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# --- The review / blacklist service ------------------------------------------------------------
# Nothing here is ever deleted by the service: decisions, lifts and expiries are new rows or
# timestamps, so the history a regulator may ask for (at least three years) stays complete.


class Streamer(Base):
    """A person (or company) who streams; may hold accounts on several platforms."""

    __tablename__ = "streamers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # "active", "suspended", "blacklisted": the current rung, kept in step with sanctions.
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)

    accounts: Mapped[list[PlatformAccount]] = relationship(back_populates="streamer")
    identities: Mapped[list[LinkedIdentity]] = relationship(back_populates="streamer")


class PlatformAccount(Base):
    __tablename__ = "platform_accounts"
    __table_args__ = (UniqueConstraint("platform", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    streamer_id: Mapped[int] = mapped_column(ForeignKey("streamers.id"), index=True)
    platform: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(200))
    handle: Mapped[str | None] = mapped_column(String(200))
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)

    streamer: Mapped[Streamer] = relationship(back_populates="accounts")


class LinkedIdentity(Base):
    """Something that ties accounts to one person (an ID-document hash, a phone hash, a face id),
    so that a blacklisted person coming back under a new account can be recognised."""

    __tablename__ = "linked_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    streamer_id: Mapped[int] = mapped_column(ForeignKey("streamers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(200))  # a hash, never the raw document number
    note: Mapped[str | None] = mapped_column(Text)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)

    streamer: Mapped[Streamer] = relationship(back_populates="identities")


class Stream(Base):
    __tablename__ = "streams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(64), index=True)
    streamer_id: Mapped[int | None] = mapped_column(ForeignKey("streamers.id"), index=True)
    listing: Mapped[dict | None] = mapped_column(JSON)  # the registered product listing being sold
    monitoring: Mapped[str] = mapped_column(String(16), default="stopped")  # "monitoring" | "stopped"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)


class Flag(Base):
    """A detector's finding waiting for (or past) human review. Either points at a FindingRow from
    the scanner, or carries its own fields (live detectors, vision)."""

    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_queue", "status", "severity_rank", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"), unique=True)
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"), index=True)
    stream_id: Mapped[int | None] = mapped_column(ForeignKey("streams.id"), index=True)
    streamer_id: Mapped[int | None] = mapped_column(ForeignKey("streamers.id"), index=True)
    platform: Mapped[str | None] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(64), index=True)
    t0_ms: Mapped[int] = mapped_column(BigInteger)  # ms: a stream may run for months
    t1_ms: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)  # the offending words as spoken
    segment_text: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(200))  # rule/model id@version that raised it
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(16))
    severity_rank: Mapped[int] = mapped_column(Integer)
    model_ids: Mapped[dict] = mapped_column(JSON, default=dict)  # {"asr": ..., "claims": ...}
    clip_path: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | confirmed | dismissed
    lease_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    reviewer_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    reviewer_name: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(16))  # confirm | dismiss
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)


class Sanction(Base):
    """One rung of the ladder applied to a streamer (warning ... blacklist)."""

    __tablename__ = "sanctions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    streamer_id: Mapped[int] = mapped_column(ForeignKey("streamers.id"), index=True)
    level: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("flags.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BlacklistEntry(Base):
    __tablename__ = "blacklist_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    streamer_id: Mapped[int] = mapped_column(ForeignKey("streamers.id"), index=True)
    facts: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    flag_ids: Mapped[list] = mapped_column(JSON, default=list)
    evidence_record_ids: Mapped[list] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)
    duration_days: Mapped[int | None] = mapped_column(Integer)  # None: until lifted
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    appeal_route: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | lifted | expired
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lift_reason: Mapped[str | None] = mapped_column(Text)
    retain_until: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)


class BlacklistEvent(Base):
    """Every change to the blacklist, in order: the `since` cursor regulators pull from."""

    __tablename__ = "blacklist_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("blacklist_entries.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # added | appealed | lifted | expired | upheld
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)


class Appeal(Base):
    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("blacklist_entries.id"), index=True)
    statement: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[str] = mapped_column(String(200))
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | granted | rejected
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)


class ApiKey(Base):
    """Only the SHA-256 of the token is stored; the token is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell keys apart in lists
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now, index=True)
    actor_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class EvidenceRecord(Base):
    """One link of the hash chain: record_hash = sha256(seq | prev_hash | package_sha256)."""

    __tablename__ = "evidence_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    manifest: Mapped[str] = mapped_column(Text)  # canonical JSON of the package, clip by hash
    package_sha256: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64), unique=True)
    clip_file: Mapped[str | None] = mapped_column(Text)  # relative to the evidence directory
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)


class WebhookDelivery(Base):
    """Outgoing events; the event id lets receivers drop duplicates of a retried delivery."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON)
    # what the event is about ("flag:12", "blacklist_entry:3") and its number among that subject's
    # events: receivers order by it, since a retried delivery can arrive after a later event
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    subject_seq: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)


class RescanJob(Base):
    """A batch of recorded files to scan; findings become flags as each file finishes."""

    __tablename__ = "rescan_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    paths: Mapped[list] = mapped_column(JSON)  # resolved files, inside the configured roots
    stream_id: Mapped[int | None] = mapped_column(ForeignKey("streams.id"))
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    results: Mapped[list] = mapped_column(JSON, default=list)  # one dict per finished file
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
