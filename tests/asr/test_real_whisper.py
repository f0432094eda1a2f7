"""The real default model (Whisper base, from the pip packages) on real speech."""

import numpy as np
import pytest

from asr import AsrOptions, Transcriber, load_whisper
from asr.chinese import to_simplified
from asr.metrics import cer, wer
from ingest.decode import SAMPLE_RATE
from ingest.windows import Window
from liveguard.bench_asr import TESTDATA, reference_clips


def _transcribe(transcriber, clips):
    windows = [Window(c.name, 0, 0.0, c.audio) for c in clips]
    return [" ".join(s.text for s in wt.segments) for wt in transcriber.transcribe(windows)]


@pytest.fixture(scope="module", params=["torch", "ct2"])
def engine_transcriber(request, base_whisper):
    """Both engines on the same registry weights: openai-whisper (PyTorch) and CTranslate2 int8."""
    loaded = base_whisper if request.param == "torch" else load_whisper("whisper-base", "cpu", engine="ct2")
    return Transcriber(loaded, AsrOptions(batch_size=4))


def test_librivox_wer_within_15_percent(engine_transcriber):
    clips = [c for c in reference_clips() if c.name.startswith("sense_and_sensibility")]
    assert len(clips) == 5, "pocketsphinx-testdata LibriVox clips missing: run scripts/setup.sh"
    hyps = _transcribe(engine_transcriber, clips)
    score = wer([c.reference for c in clips], hyps)
    assert score <= 0.15, f"WER {score:.1%}: {hyps}"


def test_mandarin_clip_is_detected_as_zh_and_simplified(engine_transcriber):
    clips = [c for c in reference_clips() if c.name == "basic_ref_zh.wav"]
    assert clips, f"Mandarin test clip missing from {TESTDATA}: run scripts/setup.sh"
    (result,) = engine_transcriber.transcribe([Window("zh", 0, 0.0, clips[0].audio)])
    text = "".join(s.text for s in result.segments)
    assert {s.lang for s in result.segments} == {"zh"}
    assert to_simplified(text) == text
    assert cer([clips[0].reference], [text]) <= 0.3, text


def test_silence_with_noise_yields_no_usable_text(base_transcriber):
    rng = np.random.default_rng(0)
    hiss = rng.normal(0, 0.003, 25 * SAMPLE_RATE).astype(np.float32)
    (result,) = base_transcriber.transcribe([Window("quiet", 0, 0.0, hiss)])
    assert [s for s in result.segments if not s.hallucination] == []
