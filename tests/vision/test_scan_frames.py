"""Scan decodes video only for a visual check, at source resolution, and hands ASR windows without frames."""

from types import SimpleNamespace

from claims import RuleDetector
from pipeline.scan import scan_file


class CountingTranscriber:
    """Stands in for Whisper: records how many frames each window still carries."""

    def __init__(self):
        self.frames = []

    def transcribe(self, windows):
        for w in windows:
            self.frames.append(len(w.frames))
            yield SimpleNamespace(window=w, segments=[], speech_s=0.0)


class RecordingChecker:
    def __init__(self):
        self.shapes = []

    def feed(self, window):
        self.shapes += [f.image.shape[:2] for f in window.frames]
        return []

    def finish(self):
        return []


def test_no_visual_check_no_frames_decoded_and_frames_never_reach_asr(impostor_video):
    asr = CountingTranscriber()
    scan = scan_file(impostor_video, asr, RuleDetector())
    assert scan.ok and scan.audio_s > 4 and asr.frames and set(asr.frames) == {0}

    asr, checker = CountingTranscriber(), RecordingChecker()
    scan = scan_file(impostor_video, asr, RuleDetector(), visual=lambda source: checker)
    assert scan.ok and set(asr.frames) == {0}  # dropped after the visual check, before ASR batches them
    assert len(checker.shapes) >= 4 and set(checker.shapes) == {(360, 640)}  # the source's own size


class SplitChecker:
    """A checker with faces and on-screen text on (VisualChecker.parts == 2)."""

    parts = 2

    def __init__(self, fail_text_at: float | None = None):
        self.seen = {"faces": [], "text": []}
        self.threads = {"faces": set(), "text": set()}
        self.fail_text_at = fail_text_at

    def _part(self, name, window):
        import threading

        self.threads[name].add(threading.current_thread().name)
        self.seen[name] += [f.t for f in window.frames]
        if name == "text" and self.fail_text_at is not None and window.t1 > self.fail_text_at:
            raise RuntimeError("OCR broke")
        return []

    def feed_faces(self, window):
        return self._part("faces", window)

    def feed_text(self, window):
        return self._part("text", window)

    def finish(self):
        return []


def test_faces_and_text_are_checked_in_two_threads_that_each_see_every_frame(impostor_video):
    checker = SplitChecker()
    scan = scan_file(impostor_video, CountingTranscriber(), RuleDetector(), visual=lambda source: checker)
    assert scan.ok and len(checker.seen["faces"]) >= 4
    assert checker.seen["faces"] == checker.seen["text"]  # every frame, in order, in both
    assert len(checker.threads["faces"]) == len(checker.threads["text"]) == 1
    assert checker.threads["faces"] != checker.threads["text"]

    broken = SplitChecker(fail_text_at=0.0)
    scan = scan_file(impostor_video, CountingTranscriber(), RuleDetector(), visual=lambda source: broken)
    assert not scan.ok and "OCR broke" in " ".join(scan.errors)
