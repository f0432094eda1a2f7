"""Saving scan results, idempotently: a re-scan of the same content adds no duplicate rows."""

from __future__ import annotations

import hashlib
from pathlib import Path
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from serve.tables import FindingRow, Flag, Recording, ScanError, Stream, TranscriptSegment

if TYPE_CHECKING:  # only for the annotation: importing the pipeline would load torch and Whisper
    from pipeline.scan import FileScan

__all__ = ["SaveCounts", "save_scan", "live_recording_key", "save_live_record"]


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


def live_recording_key(stream_id: str, url: str, started_at: str) -> str:
    """The recordings-table key of one monitoring session of a live stream (no file to hash):
    a digest of the stream id, its URL and when monitoring started."""
    return hashlib.sha256(f"live\0{stream_id}\0{url}\0{started_at}".encode()).hexdigest()


def _note_clip_failed(session: Session, rec: dict) -> bool:
    """A finding's clip could not be made: its flags stop pointing at the missing file and say why."""
    clip = str(Path(rec["clip"]).absolute())
    with session.begin():
        flags = list(session.scalars(select(Flag).where(Flag.clip_path == clip)))
        for flag in flags:
            flag.clip_path = None
            flag.evidence = f"{flag.evidence} [no clip: {rec.get('message', 'clip not made')}]"
    return bool(flags)


def save_live_record(session: Session, key: str, url: str, rec: dict, flags: bool = True,
                     service_stream_id: int | None = None) -> bool:
    """Store one `liveguard monitor` record (transcript or finding) under the stream session's
    recording row; other record types are ignored. With `flags`, a finding also becomes a flag in
    the moderators' review queue, with its evidence clip, and with `service_stream_id` (a stream
    registered in this database) the flag names that stream, its platform and streamer, so the
    sanctions policy applies. True when a row was added (a record already stored, e.g. after a
    retried batch, adds nothing)."""
    if rec.get("type") == "clip_failed":
        return _note_clip_failed(session, rec)
    if rec.get("type") not in ("transcript", "finding"):
        return False
    with session.begin():
        row = session.scalar(select(Recording).where(Recording.sha256 == key))
        if row is None:
            row = Recording(sha256=key, path=url)
            session.add(row)
            session.flush()
        row.last_scanned_at = datetime.now(timezone.utc)
        t0, t1 = _ms(rec["t0"]), _ms(rec["t1"])
        if rec["type"] == "transcript":
            if session.scalar(select(TranscriptSegment.id).where(
                    TranscriptSegment.recording_id == row.id, TranscriptSegment.t0_ms == t0,
                    TranscriptSegment.t1_ms == t1, TranscriptSegment.model_id == rec.get("model", ""))):
                return False
            session.add(TranscriptSegment(recording_id=row.id, t0_ms=t0, t1_ms=t1, text=rec["text"], lang=rec["lang"],
                                          hallucination=rec.get("hallucination", False),
                                          hallucination_reason=rec.get("hallucination_reason"),
                                          model_id=rec.get("model", "")))
            return True
        if session.scalar(select(FindingRow.id).where(
                FindingRow.recording_id == row.id, FindingRow.label == rec["label"], FindingRow.t0_ms == t0,
                FindingRow.t1_ms == t1, FindingRow.decided_by == rec["decided_by"])):
            return False
        evidence = rec["evidence"] + (f" [clip: {rec['clip']}]" if rec.get("clip") else "")
        session.add(FindingRow(recording_id=row.id, label=rec["label"], t0_ms=t0, t1_ms=t1, score=rec["score"],
                               evidence=evidence, segment_text=rec.get("segment_text", ""),
                               decided_by=rec["decided_by"], legal_basis=rec.get("legal_basis", ""),
                               severity=rec.get("severity", ""), lang=rec.get("lang", ""),
                               asr_model=rec.get("asr_model", "")))
        if flags:
            from serve.crud import flags_from_recording  # the service's own rule for findings -> flags

            session.flush()
            # absolute: the review page opens the clip from the server's working directory
            clip = str(Path(rec["clip"]).absolute()) if rec.get("clip") else None
            stream = session.get(Stream, service_stream_id) if service_stream_id is not None else None
            flags_from_recording(session, row, stream=stream, clip_path=clip)
        return True
