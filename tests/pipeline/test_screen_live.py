"""Live on-screen checks: a claim shown on screen, or an AI label taken off, is reported while the
stream runs (as soon as it is certain), once per appearance; at the end of a stream the same
appearances have been reported as a scan of the recording reports them."""

from claims import RuleDetector
from pipeline.screen import LiveLabelWatch, LiveScreenText, ai_label_findings, screen_text_findings
from vision.ai_label import LabelOptions, check_ai_label
from vision.ocr import ScreenText


def reading(t, *texts):
    return t, [ScreenText(t, (0, 0, 10, 10), x, 0.99) for x in texts]


STICKER = "限时秒杀 全网最低价"  # fake_price on screen
TIMELINE = ([reading(t, STICKER, "AI生成") for t in (0, 2, 4, 6)]  # sticker and label on screen
            + [reading(t, "AI生成") for t in (8, 10)]  # sticker gone
            + [reading(t) for t in (12, 14, 16, 18, 20)]  # label taken off
            + [reading(22, "AI生成"), reading(24, STICKER, "AI生成")])  # both back; the sticker once


def _run(watch, timeline):
    """(stream time of the reading that reported it, finding) for each finding, then finish()."""
    out = [(t, f) for t, lines in timeline for f in watch.update(t, lines)]
    return out + [(None, f) for f in (watch.finish() if hasattr(watch, "finish") else [])]


def test_a_claim_on_screen_is_reported_on_its_second_reading_not_at_the_end():
    det = RuleDetector()
    got = _run(LiveScreenText(det, "room1"), TIMELINE)
    fake = [(t, f) for t, f in got if f.label == "fake_price"]
    assert [(t, f.t0) for t, f in fake] == [(2, 0), (None, 24)]  # confirmed at t=2; the last one is on at the end
    assert fake[0][1].evidence.startswith("on screen:") and fake[0][1].source == "room1"
    # the same appearances a scan of the recording finds, one finding each
    scan = screen_text_findings(TIMELINE, det, "room1")
    assert sorted((f.label, f.t0) for _, f in got) == sorted((f.label, f.t0) for f in scan)


def test_text_read_once_and_gone_is_still_reported_when_it_leaves():
    got = _run(LiveScreenText(RuleDetector(), "room1"), [reading(0, STICKER), reading(2), reading(4)])
    assert [(t, f.label, f.t0) for t, f in got if f.label == "fake_price"] == [(2, "fake_price", 0)]


def test_a_removed_ai_label_is_reported_once_it_has_been_missing_long_enough():
    opts = LabelOptions(min_gap_s=6.0, min_missing_checks=2)
    got = _run(LiveLabelWatch(opts, "room1"), TIMELINE)
    assert [(t, f.label, f.t0, f.t1) for t, f in got] == [(18, "undisclosed_ai_content", 12, 18)]
    assert "still missing at t=18.0 s" in got[0][1].evidence and "'ai生成'" in got[0][1].evidence
    # a scan of the same timeline finds the same removal (and knows when the label came back)
    scan = ai_label_findings(check_ai_label(TIMELINE, opts), "room1")
    assert [(f.label, f.t0) for f in scan] == [("undisclosed_ai_content", 12)]


def test_short_misses_and_never_labelled_streams_report_nothing():
    opts = LabelOptions(min_gap_s=6.0, min_missing_checks=2)
    flicker = [reading(0, "AI生成"), reading(2), reading(4, "AI生成"), reading(6), reading(8, "AI生成")]
    assert _run(LiveLabelWatch(opts), flicker) == []
    assert _run(LiveLabelWatch(opts), [reading(t) for t in range(0, 40, 2)]) == []


class ScriptedReader:
    """Stands in for OCR (tested on real rendered frames in tests/vision/test_vision_ocr.py):
    returns the lines the timeline has for the frame's time."""

    def __init__(self, timeline):
        from types import SimpleNamespace

        self.by_t = dict(timeline)
        self.opts = SimpleNamespace(interval_s=2.0)

    def read(self, image, t):
        return self.by_t[t]


def test_the_visual_checker_reports_screen_findings_while_the_stream_runs_only_when_live():
    import numpy as np

    from ingest.decode import VideoFrame
    from pipeline.impersonation import VisualChecker, VisualOptions

    frames = [VideoFrame(t, np.zeros((8, 8, 3), np.uint8)) for t, _ in TIMELINE]
    for live in (True, False):
        checker = VisualChecker("room1", None, detector=RuleDetector(), reader=ScriptedReader(TIMELINE),
                                opts=VisualOptions(live=live, label=LabelOptions(min_gap_s=6.0)))
        during = [f for fr in frames for f in checker.feed([fr])]
        after = checker.finish()
        labels = sorted(f.label for f in during + after)
        assert labels == ["absolute_terms", "absolute_terms", "fake_price", "fake_price", "undisclosed_ai_content"]
        if live:
            assert sorted(f.label for f in during) == ["absolute_terms", "fake_price", "undisclosed_ai_content"]
        else:
            assert during == []  # scan folds the whole timeline at the end


def test_a_line_on_screen_for_many_readings_goes_to_the_claims_detector_once():
    class Counting(RuleDetector):
        calls = []

        def detect(self, text, lang=None):
            self.calls.append(text)
            return super().detect(text, lang)

    det = Counting()
    scan = screen_text_findings(TIMELINE, det, "room1")
    assert sorted(det.calls) == sorted({STICKER, "AI生成"})  # 13 readings, two distinct lines
    assert scan == screen_text_findings(TIMELINE, RuleDetector(), "room1")  # the same findings
