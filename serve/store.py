"""Saving scan results, idempotently: a re-scan of the same content adds no duplicate rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from serve.tables import FindingRow, Recording, ScanError, TranscriptSegment

if TYPE_CHECKING:  # only for the annotation: importing the pipeline would load torch and Whisper
    from pipeline.scan import FileScan

__all__ = ["SaveCounts", "save_scan"]


@dataclass(frozen=True)
class SaveCounts:
    new_segments: int
    new_findings: int


def _ms(t: float) -> int:
    return int(round(t * 1000))


def save_scan(session: Session, scan: FileScan) -> SaveCounts:
    """Write one file's results in one transaction."""
    with session.begin():
        for message in scan.errors:
            session.add(ScanError(path=scan.source, sha256=scan.sha256, message=message))
        if scan.sha256 is None:
            return SaveCounts(0, 0)
        rec = session.scalar(select(Recording).where(Recording.sha256 == scan.sha256))
        if rec is None:
            rec = Recording(sha256=scan.sha256, path=scan.source)
            session.add(rec)
            session.flush()
        rec.path = scan.source
        rec.duration_s = scan.info.duration_s if scan.info else None
        rec.last_scanned_at = datetime.now(timezone.utc)

        have_segs = {tuple(row) for row in session.execute(
            select(TranscriptSegment.t0_ms, TranscriptSegment.t1_ms, TranscriptSegment.model_id)
            .where(TranscriptSegment.recording_id == rec.id))}
        new_segs = 0
        for s in scan.segments:
            key = (_ms(s.t0), _ms(s.t1), s.model_id)
            if key in have_segs:
                continue
            have_segs.add(key)
            session.add(TranscriptSegment(recording_id=rec.id, t0_ms=key[0], t1_ms=key[1], text=s.text, lang=s.lang,
                                          hallucination=s.hallucination,
                                          hallucination_reason=s.hallucination_reason, model_id=s.model_id))
            new_segs += 1

        have = {tuple(row) for row in session.execute(
            select(FindingRow.label, FindingRow.t0_ms, FindingRow.t1_ms, FindingRow.decided_by)
            .where(FindingRow.recording_id == rec.id))}
        new_findings = 0
        for f in scan.findings:
            key = (f.label, _ms(f.t0), _ms(f.t1), f.decided_by)
            if key in have:
                continue
            have.add(key)
            session.add(FindingRow(recording_id=rec.id, label=f.label, t0_ms=key[1], t1_ms=key[2], score=f.score,
                                   evidence=f.evidence, segment_text=f.segment_text, decided_by=f.decided_by,
                                   legal_basis=f.legal_basis, severity=f.severity, lang=f.lang,
                                   asr_model=f.asr_model))
            new_findings += 1
    return SaveCounts(new_segs, new_findings)
