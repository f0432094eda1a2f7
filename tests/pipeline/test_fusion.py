"""Fusion of face, voice, transcript cues and synthetic scores (pipeline.fusion): pure, no models."""

import numpy as np
import pytest

from asr.types import Segment
from pipeline.findings import Finding
from pipeline.fusion import (IDENTITY_CUE, REAL_PERSON_CUE, FusionOptions, combine_scores, entry_of, fuse,
                             identity_cues, modality_of, real_person_cues)
from pipeline.impersonation import FaceMatch, ImpersonationOptions
from pipeline.impersonation import _finding as face_finding
from pipeline.voices import VoiceMatch, VoiceOptions
from pipeline.voices import _finding as voice_finding
from vision.faces import Face
from vision.gallery import GalleryEntry
from vision.tracking import Track

FACE_ID, VOICE_ID = "face:dlib-resnet-v1@0.3.0", "voice:resemblyzer@0.1.4"


def _face(name, t0, t1, score=0.8, label="ai_impersonation", kind="gallery entry"):
    return Finding("s", t0, t1, label, score, f"face matches {kind} {name!r} (protected, not authorised for "
                   f"account 'shop'): distance 0.240 <= 0.6 (similarity {score}) in 3 of 3 frame(s); "
                   f"frames at t={t0:.1f}, {t1:.1f} s", FACE_ID, "basis", "high", "", "", "")


def _voice(name, t0, t1, score=0.7, label="ai_impersonation", kind="gallery entry"):
    return Finding("s", t0, t1, label, score, f"voice matches {kind} {name!r} (protected, not authorised for "
                   f"account 'shop'): similarity 0.880 >= 0.8 in 2 speech turn(s) at t={t0:.1f}-{t1:.1f} s",
                   VOICE_ID, "basis", "high", "", "", "")


def _seg(t0, t1, text, lang="en", hallucination=False):
    return Segment("s", t0, t1, text, lang, -0.3, 0.01, 1.2, hallucination=hallucination, model_id="whisper-base")


def _claim(t0, t1):
    return Finding("s", t0, t1, "absolute_terms", 0.9, "best in the world", "en.absolute@1", "AdLaw",
                   "medium", "the best in the world", "en", "whisper-base")


def _synthetic(t0, t1, score=0.91):
    return Finding("s", t0, t1, "undisclosed_ai_content", score,
                   f"synthetic-image score max {score:.3f} in 3 frame(s) (probe@1; t:score {t0:.1f}:{score:.2f}); "
                   "no AI label read on screen at any of 5 OCR readings", "probe@1", "basis", "medium", "", "", "")


def test_face_and_voice_of_one_entry_overlapping_become_one_finding():
    face, voice, claim = _face("Li Ming", 10.0, 30.0, 0.8), _voice("Li Ming", 12.0, 35.0, 0.7), _claim(20, 22)
    out = fuse([face, claim, voice], [])
    assert len(out) == 2 and out[1] == claim  # other findings pass through, in order
    f = out[0]
    assert (f.t0, f.t1, f.label) == (10.0, 35.0, "ai_impersonation")
    assert f.decided_by == f"{FACE_ID}+{VOICE_ID}"
    assert f.score == pytest.approx(1 - 0.2 * 0.3)  # 0.94
    assert "similarity 0.8" in f.evidence and "similarity 0.880" in f.evidence  # both similarities
    assert "frames at t=10.0, 30.0 s" in f.evidence and "speech turn(s) at t=12.0-35.0 s" in f.evidence


def test_face_and_voice_a_few_seconds_apart_still_merge_and_far_apart_do_not():
    near = fuse([_face("Li Ming", 10, 20), _voice("Li Ming", 24, 30)])
    assert len(near) == 1 and (near[0].t0, near[0].t1) == (10, 30)
    far = fuse([_face("Li Ming", 10, 20), _voice("Li Ming", 40, 50)])
    assert [f.decided_by for f in far] == [FACE_ID, VOICE_ID]
    assert fuse([_face("Li Ming", 10, 20), _voice("Li Ming", 24, 30)], opts=FusionOptions(max_gap_s=2)) == \
        [_face("Li Ming", 10, 20), _voice("Li Ming", 24, 30)]


def test_different_entries_or_labels_stay_apart():
    out = fuse([_face("Li Ming", 10, 30), _voice("Wang Fang", 10, 30)])
    assert [entry_of(f) for f in out] == ["Li Ming", "Wang Fang"] and all("+" not in f.decided_by for f in out)
    out = fuse([_face("Li Ming", 10, 30), _voice("Li Ming", 10, 30, label="ban_evasion",
                                                 kind="blacklisted streamer")])
    assert len(out) == 2


def test_two_faces_alone_stay_two_but_a_voice_joining_them_makes_one():
    a, b = _face("Li Ming", 0, 10, 0.6), _face("Li Ming", 12, 20, 0.7)
    assert fuse([a, b]) == [a, b]
    out = fuse([a, b, _voice("Li Ming", 8, 14, 0.5)])
    assert len(out) == 1 and (out[0].t0, out[0].t1) == (0, 20)
    assert out[0].score == pytest.approx(1 - 0.3 * 0.5)  # best face with best voice


def test_english_and_chinese_identity_cues_raise_the_score_and_are_quoted():
    segs = [_seg(9.0, 12.0, "Hello everyone, I am Li Ming and this tea is great.")]
    f = fuse([_face("Li Ming", 10, 30, 0.8)], segs)[0]
    assert f.score == pytest.approx(0.95)
    assert "I am Li Ming and this tea is great." in f.evidence and "claims to be 'Li Ming'" in f.evidence
    assert f.decided_by == f"{FACE_ID}+{IDENTITY_CUE}" and f.segment_text == segs[0].text and f.lang == "en"

    zh = [_seg(15.0, 18.0, "大家好，我是李明，今天给大家推荐这款茶", lang="zh")]
    f = fuse([_face("李明", 10, 30, 0.8), _voice("李明", 12, 28, 0.7)], zh)[0]
    assert f.score == pytest.approx(min(0.94 + 0.15, 0.99))  # capped
    assert "我是李明" in f.evidence and f.decided_by == f"{FACE_ID}+{VOICE_ID}+{IDENTITY_CUE}"
    for text in ["我就是李明", "本人李明，今天来直播", "my name is li ming", "This is the real Li Ming!"]:
        assert identity_cues([_seg(0, 1, text)], "李明" if "明" in text else "Li Ming"), text


def test_cues_that_are_not_claims_or_not_near_or_another_name_add_nothing():
    face = _face("Li Ming", 10, 30, 0.8)
    for segs in ([_seg(11, 13, "I'm Li Ming's biggest fan")],  # possessive
                 [_seg(11, 13, "我是李明的粉丝", lang="zh")],
                 [_seg(11, 13, "I am Li Mingyu")],  # a longer name
                 [_seg(60, 62, "I am Li Ming")],  # far from the appearance
                 [_seg(11, 13, "I am Li Ming", hallucination=True)],
                 [_seg(11, 13, "I am Wang Fang")]):  # another person: nothing special
        assert fuse([face], segs) == [face], segs
    assert fuse([_face("李明", 10, 30)], [_seg(11, 13, "我是李明的粉丝", lang="zh")])[0].score == 0.8


def test_words_alone_never_flag():
    segs = [_seg(0, 3, "I am Li Ming"), _seg(3, 6, "我是李明", lang="zh")]
    assert fuse([], segs) == []
    claim = _claim(1, 2)
    assert fuse([claim], segs) == [claim]


def test_synthetic_overlap_is_mentioned_and_kept_apart():
    face, syn = _face("Li Ming", 10, 30, 0.8), _synthetic(20, 40, 0.91)
    out = fuse([face, syn])
    assert len(out) == 2 and out[1] == syn
    assert "synthetic score 0.91 at t=20.0-40.0 s" in out[0].evidence and out[0].score == 0.8
    assert "synthetic" not in fuse([face, _synthetic(31, 40)])[0].evidence  # not overlapping


def test_real_person_claim_next_to_a_synthetic_finding_adds_weight():
    syn = _synthetic(20, 40, 0.8)
    out = fuse([syn], [_seg(22, 25, "大家放心，我是真人主播", lang="zh")])
    assert out[0].score == pytest.approx(0.95) and out[0].decided_by == f"probe@1+{REAL_PERSON_CUE}"
    assert "我是真人" in out[0].evidence
    assert real_person_cues([_seg(0, 1, "I'm not an AI, I'm a real person")])
    spoken = Finding("s", 22, 25, "undisclosed_ai_content", 0.7, "我是真人", "zh.undisclosed_ai@1", "b", "medium",
                     "大家放心，我是真人主播", "zh", "whisper-base")  # a spoken-rule finding: words, not picture
    assert fuse([spoken], [_seg(22, 25, "大家放心，我是真人主播", lang="zh")]) == [spoken]


def test_evidence_written_by_the_face_and_voice_paths_is_understood():
    entry = GalleryEntry("O'Brien \"Li\"", np.zeros((1, 128), np.float32), authorised_accounts=("official",))
    faces = [Face(t, (0, 0, 80, 80), np.zeros(128, np.float32), 1.0) for t in (10.0, 11.0, 12.0)]
    fm = FaceMatch(entry, Track(1, faces), 0.25, tuple(faces), False)
    vm = VoiceMatch(entry, 11.0, 20.0, 0.9, ((11.0, 14.0, 0.9), (15.0, 20.0, 0.88)), False)
    face = face_finding(fm, "shop", "s", ImpersonationOptions())
    voice = voice_finding(vm, "shop", "s", VoiceOptions())
    assert entry_of(face) == entry_of(voice) == entry.name
    assert (modality_of(face), modality_of(voice)) == ("face", "voice")
    out = fuse([face, voice])
    assert len(out) == 1 and (out[0].t0, out[0].t1) == (10.0, 20.0)
    assert out[0].score == combine_scores([face.score, voice.score])


def test_options_are_checked():
    with pytest.raises(ValueError):
        FusionOptions(max_gap_s=-1)
    assert combine_scores([1.0, 0.5]) == 0.99


def test_live_processor_fuses_a_batch_with_the_recent_transcript(tmp_path):
    from asr.transcriber import WindowTranscript
    from claims import RuleDetector
    from ingest.windows import Window
    from pipeline.live import LiveProcessor

    proc = LiveProcessor(RuleDetector(), tmp_path, transcript_keep_s=120.0)
    old = [_seg(0.0, 3.0, "I am Li Ming")]  # drops out of the kept transcript later
    proc.process(WindowTranscript(Window("s", 0, 0.0, np.zeros(16000 * 8, np.float32)), old, 3.0), 0.0, None)
    cue = [_seg(200.0, 203.0, "Hello, I am Li Ming")]
    proc.process(WindowTranscript(Window("s", 1, 200.0, np.zeros(16000 * 8, np.float32)), cue, 3.0), 0.0, None)
    assert [s.text for s in proc.recent["s"]] == ["Hello, I am Li Ming"]
    recs = proc.process_visual([_face("Li Ming", 198, 230, 0.8), _voice("Li Ming", 199, 232, 0.7)], None)
    assert len(recs) == 1 and recs[0]["decided_by"] == f"{FACE_ID}+{VOICE_ID}+{IDENTITY_CUE}"
    assert recs[0]["score"] == 0.99 and (recs[0]["t0"], recs[0]["t1"]) == (198, 232)
    assert len(proc.pending_clips) == 1 and proc.pending_clips[0].t1 == 232 + proc.opts.clip_after_s
    # a later batch: not merged with the one before (documented), no cue near it
    recs = proc.process_visual([_voice("Li Ming", 300, 310, 0.7)], None)
    assert len(recs) == 1 and recs[0]["decided_by"] == VOICE_ID and recs[0]["score"] == 0.7
