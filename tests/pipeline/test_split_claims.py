"""A claim the host splits with a pause (two Whisper segments) is still found, once, in scan and
live: the finding covers both segments."""

from asr.types import Segment
from claims.rules import RuleDetector
import numpy as np

from asr.transcriber import WindowTranscript
from ingest.windows import Window
from pipeline import find_claims
from pipeline.live import LiveProcessor


def seg(t0, t1, text, lang="en", hallucination=False):
    return Segment(stream_id="room", t0=t0, t1=t1, text=text, lang=lang, avg_logprob=-0.3, no_speech_prob=0.05,
                   compression_ratio=1.2, hallucination=hallucination, model_id="whisper-base")


def labels(findings):
    return sorted((f.label, f.t0, f.t1) for f in findings)


def test_a_price_claim_split_across_two_segments_is_one_finding():
    det = RuleDetector()
    found = find_claims([seg(20.6, 24.0, "Normally 1,099."), seg(24.0, 25.8, "Today only 99.")], det, "room")
    assert labels(found) == [("fake_price", 20.6, 25.8)]
    assert "1,099" in found[0].evidence and "99" in found[0].evidence
    assert found[0].segment_text == "Normally 1,099. Today only 99."
    zh = find_claims([seg(3.0, 5.0, "这款面霜原价999", "zh"), seg(5.4, 7.0, "今天直播间只要99", "zh")], det, "room")
    assert labels(zh) == [("fake_price", 3.0, 7.0)]


def test_segments_far_apart_or_hallucinated_are_not_joined():
    det = RuleDetector()
    assert find_claims([seg(20.0, 22.0, "Normally 1,099."), seg(30.0, 32.0, "Today only 99.")], det, "room") == []
    assert find_claims([seg(20.0, 22.0, "Normally 1,099.", hallucination=True), seg(22.2, 24.0, "Today only 99.")],
                       det, "room") == []


def test_a_claim_within_one_segment_is_not_reported_twice():
    det = RuleDetector()
    found = find_claims([seg(0.0, 3.0, "This tea cures diabetes."), seg(3.2, 5.0, "It really cures diabetes.")],
                        det, "room")
    assert labels(found) == [("medical_claim_non_drug", 0.0, 3.0), ("medical_claim_non_drug", 3.2, 5.0)]


def test_live_joins_the_last_segment_of_the_previous_window(tmp_path):
    proc = LiveProcessor(RuleDetector(), tmp_path / "clips")
    audio = np.zeros(8 * 16000, np.float32)
    first = WindowTranscript(Window("room", 2, 16.0, audio), [seg(20.6, 24.0, "Normally 1,099.")], 3.4)
    second = WindowTranscript(Window("room", 3, 24.0, audio), [seg(24.0, 25.8, "Today only 99.")], 1.8)
    assert [r for r in proc.process(first, 0.0, None) if r["type"] == "finding"] == []
    found = [r for r in proc.process(second, 0.0, None) if r["type"] == "finding"]
    assert [(r["label"], r["t0"], r["t1"]) for r in found] == [("fake_price", 20.6, 25.8)]
    assert found[0]["clip"]  # the clip covers both halves of the claim
