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
