"""`liveguard monitor --db`: live transcript and finding records land in the scan tables, once each,
and findings become flags in the review queue with their clips."""

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from serve.store import live_recording_key, save_live_record
from serve.tables import Base, FindingRow, Flag, Recording, TranscriptSegment

SEG = {"type": "transcript", "source": "room1", "t0": 3.2, "t1": 7.9, "text": "这个茶能治疗糖尿病", "lang": "zh",
       "model": "whisper-base"}
FINDING = {"type": "finding", "source": "room1", "label": "medical_claim_food", "t0": 3.2, "t1": 7.9,
           "score": 0.97, "evidence": "治疗糖尿病", "decided_by": "rule:med-zh-001", "clip": "/clips/room1_3.mp4",
           "legal_basis": "广告法 第十七条", "severity": "high", "lang": "zh"}


def _count(engine, table) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(table))


def test_live_records_are_stored_once_per_monitoring_session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'live.sqlite'}")
    Base.metadata.create_all(engine)
    key = live_recording_key("room1", "rtmp://127.0.0.1/live/room1", "2026-11-23T10:00:00+00:00")
    with Session(engine) as s:
        assert save_live_record(s, key, "rtmp://127.0.0.1/live/room1", SEG)
        assert save_live_record(s, key, "rtmp://127.0.0.1/live/room1", FINDING)
        # a retried batch sends the same records again: nothing is added
        assert not save_live_record(s, key, "rtmp://127.0.0.1/live/room1", SEG)
        assert not save_live_record(s, key, "rtmp://127.0.0.1/live/room1", FINDING)
        assert not save_live_record(s, key, "rtmp://127.0.0.1/live/room1", {"type": "status", "source": "room1"})
    assert (_count(engine, Recording), _count(engine, TranscriptSegment), _count(engine, FindingRow)) == (1, 1, 1)
    assert _count(engine, Flag) == 1  # in the moderators' queue once, however often it was sent
    with Session(engine) as s:
        f = s.scalar(select(FindingRow))
        assert (f.label, f.t0_ms, f.t1_ms, f.decided_by) == ("medical_claim_food", 3200, 7900, "rule:med-zh-001")
        assert "/clips/room1_3.mp4" in f.evidence
        assert s.scalar(select(Recording.path)) == "rtmp://127.0.0.1/live/room1"
        flag = s.scalar(select(Flag))
        assert (flag.label, flag.status, flag.clip_path, flag.finding_id) == (
            "medical_claim_food", "open", "/clips/room1_3.mp4", f.id)

    # a new monitoring session of the same stream is a new recording row
    key2 = live_recording_key("room1", "rtmp://127.0.0.1/live/room1", "2026-11-23T11:00:00+00:00")
    assert key2 != key
    with Session(engine) as s:
        assert save_live_record(s, key2, "rtmp://127.0.0.1/live/room1", FINDING)
    assert (_count(engine, Recording), _count(engine, FindingRow)) == (2, 2)


def test_no_flags_stores_findings_only(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'live.sqlite'}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        assert save_live_record(s, "k", "rtmp://127.0.0.1/live/room1", FINDING, flags=False)
    assert (_count(engine, FindingRow), _count(engine, Flag)) == (1, 0)
