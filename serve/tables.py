"""Database tables for scan results (SQLAlchemy 2.0; SQLite by default, PostgreSQL by URL).

Findings and transcript segments are keyed by the recording's content hash and their times in
milliseconds, so scanning the same file again (even renamed or moved) adds nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "Recording", "TranscriptSegment", "FindingRow", "ScanError"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    path: Mapped[str] = mapped_column(Text)  # where it was last seen
    duration_s: Mapped[float | None] = mapped_column(Float)
    first_scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    segments: Mapped[list[TranscriptSegment]] = relationship(back_populates="recording")
    findings: Mapped[list[FindingRow]] = relationship(back_populates="recording")


class TranscriptSegment(Base):
    __tablename__ = "transcript_segments"
    __table_args__ = (UniqueConstraint("recording_id", "t0_ms", "t1_ms", "model_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    t0_ms: Mapped[int] = mapped_column(Integer)
    t1_ms: Mapped[int] = mapped_column(Integer)
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
    t0_ms: Mapped[int] = mapped_column(Integer)
    t1_ms: Mapped[int] = mapped_column(Integer)
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
