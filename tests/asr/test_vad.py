import numpy as np
import pytest

from asr.vad import SpeechDetector
from ingest.decode import SAMPLE_RATE
from tests.utils.media import librivox


@pytest.fixture(scope="module")
def vad():
    return SpeechDetector()


def test_silence_and_noise_have_no_speech(vad):
    rng = np.random.default_rng(0)
    assert vad.spans(np.zeros(10 * SAMPLE_RATE, np.float32)) == []
    assert vad.spans(rng.normal(0, 0.01, 10 * SAMPLE_RATE).astype(np.float32)) == []


def test_real_speech_is_found_where_it_is(vad):
    speech = librivox()
    audio = np.concatenate([np.zeros(3 * SAMPLE_RATE, np.float32), speech, np.zeros(2 * SAMPLE_RATE, np.float32)])
    spans = vad.spans(audio)
    assert spans, "no speech found in a LibriVox clip"
    first, last = spans[0][0] / SAMPLE_RATE, spans[-1][1] / SAMPLE_RATE
    assert 2.6 <= first <= 3.6
    assert 3 + len(speech) / SAMPLE_RATE - 1.0 <= last <= 3 + len(speech) / SAMPLE_RATE + 0.5


def test_block_model_gives_the_spans_of_the_frame_by_frame_model(vad, monkeypatch):
    """The fast path (one ONNX call per block of frames) must not move a single span."""
    assert vad.sequence, "onnxruntime is a dependency: the block model should be in use"
    rng = np.random.default_rng(1)
    speech = librivox()
    gap = np.zeros(SAMPLE_RATE, np.float32)
    audio = np.concatenate([rng.normal(0, 0.003, 2 * SAMPLE_RATE).astype(np.float32), speech, gap, speech[::-1]])
    import builtins

    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    frame_by_frame = SpeechDetector()
    monkeypatch.undo()
    assert not frame_by_frame.sequence
    assert vad.spans(audio) == frame_by_frame.spans(audio)


def test_loading_the_vad_leaves_torch_on_all_its_threads():
    """silero_vad sets torch to one thread when imported; Whisper must keep every core."""
    import subprocess
    import sys

    code = ("import torch; torch.set_num_threads(2); from asr.vad import SpeechDetector; SpeechDetector(); "
            "print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "2"
