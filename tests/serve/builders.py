"""Builders for service tests: a scanned recording with findings, streamers and streams."""

from __future__ import annotations

from pathlib import Path

from pipeline.findings import Finding
from pipeline.scan import FileScan
from asr.types import Segment
from serve.store import save_scan
from serve.tables import Recording, Stream, Streamer
from sqlalchemy import select

CLAIMS = [  # (t0, t1, label, severity, words, legal basis)
    (3.0, 5.0, "medical_claim_non_drug", "high", "cure your diabetes", "Advertising Law Art. 17, 28"),
    (6.0, 8.0, "absolute_terms", "medium", "best serum in the world", "Advertising Law Art. 9(3)"),
    (9.0, 11.0, "efficacy_guarantee", "high", "guaranteed cure", "Advertising Law Art. 16, 18"),
]


def scanned_recording(sessions, source: str = "room.mp4", sha: str = "a" * 64, claims=CLAIMS) -> Recording:
    segs = [Segment(stream_id=source, t0=t0, t1=t1, text=f"This {words}.", lang="en", avg_logprob=-0.2,
                    no_speech_prob=0.0, compression_ratio=1.0, model_id="whisper-base@test")
            for t0, t1, _, _, words, _ in claims]
    findings = [Finding(source=source, t0=t0, t1=t1, label=label, score=0.9, evidence=words,
                        decided_by=f"rule:{label}@1", legal_basis=basis, severity=sev, segment_text=f"This {words}.",
                        lang="en", asr_model="whisper-base@test") for t0, t1, label, sev, words, basis in claims]
    with sessions() as s:
        save_scan(s, FileScan(source=source, sha256=sha, segments=segs, findings=findings))
    with sessions() as s:
        return s.scalar(select(Recording).where(Recording.sha256 == sha))


def streamer_with_stream(sessions, name: str = "Host A", platform: str = "douyin") -> tuple[int, int]:
    with sessions() as s:
        st = Streamer(display_name=name)
        s.add(st)
        s.flush()
        stream = Stream(url=f"rtmp://example.invalid/{st.id}", platform=platform, streamer_id=st.id,
                        listing={"title": "Herbal tea", "material": "tea leaves"})
        s.add(stream)
        s.commit()
        return st.id, stream.id


def write_clip(settings, name: str = "clip.mp4", data: bytes = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8
               ) -> Path:
    path = Path(settings.clip_roots[0]) / name
    path.write_bytes(data)
    return path
