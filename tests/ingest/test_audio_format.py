"""Whatever the input rate and layout, audio comes out as 16 kHz mono float32 with pitch preserved."""

from __future__ import annotations

import numpy as np
import pytest

from ingest import SAMPLE_RATE, AudioBlock, decode_media, iter_file_windows
from tests.ingest.helpers import ffmpeg


@pytest.fixture(scope="module")
def stereo_44k(tmp_path_factory):
    # near full scale on both channels, so any gain error would push samples past +-1
    expr = "0.98*sin(2*PI*440*t)|0.98*sin(2*PI*440*t)"
    return ffmpeg(tmp_path_factory.mktemp("fmt") / "stereo44k.wav",
                  "-f", "lavfi", "-i", f"aevalsrc={expr}:s=44100:d=6", "-c:a", "pcm_s16le")


def test_stereo_44k_becomes_16k_mono_float32(stereo_44k):
    blocks = [b for b in decode_media(stereo_44k) if isinstance(b, AudioBlock)]
    assert blocks
    audio = np.concatenate([b.samples for b in blocks])
    assert audio.dtype == np.float32
    assert audio.ndim == 1
    assert len(audio) == pytest.approx(6 * SAMPLE_RATE, abs=0.05 * SAMPLE_RATE)
    assert float(audio.min()) >= -1.0 and float(audio.max()) <= 1.0
    assert float(np.abs(audio).max()) > 0.3  # the downmix did not lose the signal


def test_sine_keeps_its_frequency(stereo_44k):
    (window,) = list(iter_file_windows(stereo_44k))
    audio = window.audio[SAMPLE_RATE: 5 * SAMPLE_RATE]  # 4 s from the steady part: 0.25 Hz bins
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    peak_hz = float(np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)[np.argmax(spectrum)])
    assert peak_hz == pytest.approx(440, abs=5)
