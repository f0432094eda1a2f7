"""`undisclosed_ai_content` from synthetic-media scores: fires only with a model, above its
threshold, and only where no AI label was on screen. Scores come from stubs here; the models'
own code is tested in tests/vision/test_synthetic.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from ingest.decode import VideoFrame
from pipeline.synthetic import SyntheticChecker, SyntheticHit, SyntheticOptions, WithSyntheticCheck, synthetic_findings
from vision.ai_label import check_ai_label
from vision.ocr import ScreenText
from vision.synthetic_image import SyntheticImageProbe
from vision.synthetic_voice import SAMPLE_RATE

IDS = {"image": "clip-probe-logistic:test", "voice": "lcnn-lfb:test"}


class StubImageScorer:
    """Scores a frame by its mean pixel value / 255 (a bright frame is 'synthetic')."""

    probe = SyntheticImageProbe("logistic", {}, threshold=0.7, meta={"name": "test"})

    def score(self, images):
        return [float(np.asarray(im).mean() / 255) for im in images]


@dataclass
class Win:
    t0: float
    audio: np.ndarray
    frames: list = field(default_factory=list)


def _window(t0: float, seconds: int, bright: bool) -> Win:
    value = 240 if bright else 20
    frames = [VideoFrame(t0 + i, np.full((8, 8, 3), value, np.uint8)) for i in range(seconds)]
    return Win(t0, np.zeros(seconds * SAMPLE_RATE, np.float32), frames)


def _readings(times, text):
    return [(t, [ScreenText(t, (0, 0, 1, 1), text, 0.99)] if text else []) for t in times]


def test_synthetic_frames_without_a_label_fire_with_scores_in_the_evidence():
    checker = SyntheticChecker("s.mp4", image=StubImageScorer(), opts=SyntheticOptions(interval_s=2))
    for w in (_window(0, 10, False), _window(10, 10, True)):
        assert checker.feed(w) == []
    assert checker.scored["image"] == 10  # one frame per 2 s
    report = check_ai_label(_readings(range(0, 20, 2), "限时秒杀"))
    (f,) = checker.finish(report)
    assert f.label == "undisclosed_ai_content" and (f.t0, f.t1) == (10, 18)
    assert f.score == pytest.approx(240 / 255, abs=1e-3)
    assert "synthetic-image score max 0.941 in 5 frame(s)" in f.evidence and "no AI label read" in f.evidence
    assert f.decided_by == StubImageScorer.probe.model_id and f.legal_basis


def test_a_persistent_label_discloses_and_a_removed_one_does_not():
    hits = [SyntheticHit(t, t, "image", 0.9) for t in range(0, 30, 2)]
    labelled = check_ai_label(_readings(range(0, 30, 2), "AI生成"))
    assert synthetic_findings(hits, labelled, IDS) == []
    stripped = check_ai_label(_readings(range(0, 16, 2), "AI生成") + _readings(range(16, 30, 2), ""))
    (f,) = synthetic_findings(hits, stripped, IDS)
    assert "AI label missing from 7 of 15" in f.evidence


def test_single_hits_and_no_ocr_are_handled():
    assert synthetic_findings([SyntheticHit(5, 5, "image", 0.99)], None, IDS) == []  # min_hits 2
    (f,) = synthetic_findings([SyntheticHit(5, 9, "voice", 0.8), SyntheticHit(9, 13, "voice", 0.9)], None, IDS)
    assert "AI label not checked" in f.evidence and f.decided_by == IDS["voice"] and f.score == 0.9


def test_with_synthetic_check_wraps_a_visual_checker_and_reads_its_ocr():
    class Visual:
        readings = _readings(range(0, 10, 2), "数字人主播")

        def feed(self, w):
            return []

        def finish(self):
            return []

    both = WithSyntheticCheck(Visual(), SyntheticChecker("s", image=StubImageScorer()))
    both.feed(_window(0, 10, True))
    assert both.finish() == []  # labelled throughout: disclosed
    with pytest.raises(ValueError):
        SyntheticChecker("s")


def test_voice_crops_are_scored_when_loud_enough():
    class StubVoice:
        cfg = type("C", (), {"segment_s": 2.0})()
        threshold = 0.5
        model_id = "lcnn-lfb:stub"

        def score_crops(self, c):
            return np.full(len(c), 0.9, np.float32)

    checker = SyntheticChecker("s", voice=StubVoice())
    quiet = Win(0, np.zeros(8 * SAMPLE_RATE, np.float32))
    loud = Win(8, (0.2 * np.sin(np.arange(8 * SAMPLE_RATE) / 5)).astype(np.float32))
    checker.feed(quiet)
    checker.feed(loud)
    assert checker.scored["voice"] == 4
    (f,) = checker.finish(None)
    assert (f.t0, f.t1) == (8, 16) and "synthetic-voice score max 0.900 in 4 crop(s)" in f.evidence


def test_scan_wiring_is_unchanged_without_a_model_and_turns_ocr_on_with_one(tmp_path):
    import argparse

    from liveguard.synthetic_cli import with_synthetic
    from vision.synthetic_voice import SyntheticVoiceModel, VoiceNetConfig, build_voice_net

    made = []

    def make_visual(args, detector):
        made.append(args.ocr)
        return (lambda source: "visual") if args.ocr else None

    base = dict(ocr=False, synthetic_image=None, synthetic_voice=None, synthetic_threshold=None,
                synthetic_voice_threshold=None)
    assert with_synthetic(argparse.Namespace(**base), None, make_visual) is None and made == [False]
    cfg = VoiceNetConfig(segment_s=0.5, channels=(4, 6))
    SyntheticVoiceModel(build_voice_net(cfg), cfg, 0.6).save(tmp_path / "v.pt")
    args = argparse.Namespace(**dict(base, synthetic_voice=str(tmp_path / "v.pt")))
    checker = with_synthetic(args, None, make_visual)("s.mp4")
    assert isinstance(checker, WithSyntheticCheck) and made[-1] is True and checker.synthetic.voice_threshold == 0.6
