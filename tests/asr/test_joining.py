"""Joining consecutive windows of one stream into full Whisper inputs, and mapping times back."""

import numpy as np
import pytest

from asr.batch_decode import ChunkResult, DecodeOptions, RawSegment
from asr.joining import JOIN_GAP_S, join_windows
from asr.transcriber import AsrOptions, Transcriber
from ingest.decode import SAMPLE_RATE
from ingest.windows import Window

SR = SAMPLE_RATE


def _window(stream, index, t0, seconds, seed):
    audio = np.random.default_rng(seed).normal(0, 0.1, int(seconds * SR)).astype(np.float32)
    return Window(stream, index, t0, audio)


def test_speech_of_two_windows_fills_one_input_with_long_pauses_shortened():
    a, b = _window("s", 0, 100.0, 20, 1), _window("s", 1, 120.0, 20, 2)
    # a: speech 2-8 s and 12-19.5 s (a 4-s pause); b: 0.3-6 s (a 0.8-s pause across the cut), 15-18 s
    items = [(0, a, [(2 * SR, 8 * SR), (12 * SR, int(19.5 * SR))]), (1, b, [(int(0.3 * SR), 6 * SR), (15 * SR, 18 * SR)])]
    (chunk,) = join_windows(items)
    # 6 s, 1 s of silence, 7.5 + 0.8 + 5.7 s (the short pause across the cut kept as it sounds), 1 s, 3 s
    assert len(chunk.audio) == pytest.approx((6 + JOIN_GAP_S + 14 + JOIN_GAP_S + 3) * SR, abs=2)
    g = int(JOIN_GAP_S * SR)
    assert np.array_equal(chunk.audio[:6 * SR], a.audio[2 * SR:8 * SR])
    assert not chunk.audio[6 * SR:6 * SR + g].any()
    at = 6 * SR + g  # window a's second stretch, 7.5 s, then the pause across the cut
    assert np.array_equal(chunk.audio[at:at + int(7.5 * SR)], a.audio[12 * SR:int(19.5 * SR)])
    pause = np.concatenate([a.audio[int(19.5 * SR):], b.audio[:int(0.3 * SR)]])
    assert np.array_equal(chunk.audio[at + int(7.5 * SR):at + int(8.3 * SR)], pause)  # as it sounds, across the cut
    # chunk seconds -> stream seconds
    G = JOIN_GAP_S
    assert chunk.stream_time(0.0) == pytest.approx(102.0)
    assert chunk.stream_time(6.0, end=True) == pytest.approx(108.0)
    assert chunk.stream_time(6.0 + G + 0.5) == pytest.approx(112.5)
    assert chunk.stream_time(6.0 + G + 9.0) == pytest.approx(121.0)  # past the cut: window b's time
    assert chunk.stream_time(6.0 + G + 14.0 + G + 0.5) == pytest.approx(135.5)
    assert [(row, round(s, 2), round(e, 2)) for row, s, e in chunk.windows] == [
        (0, 0.0, round(6 + G + 7.5, 2)), (1, round(6 + G + 8.3, 2), round(6 + G + 14 + G + 3, 2))]


def test_inputs_never_pass_30_s_and_streams_never_mix():
    items = [(k, _window("s" if k < 3 else "t", k, 25.0 * k, 25, k), [(SR, 24 * SR)]) for k in range(5)]
    chunks = join_windows(items)
    assert all(len(c.audio) <= 30 * SR for c in chunks)
    assert [c.stream_id for c in chunks] == ["s", "s", "s", "t", "t"]


class _Engine:
    """A stand-in engine: decode_packed refuses inputs whose windows disagree on language."""
    model_id, device = "fake", "cpu"

    def __init__(self, agree: bool):
        self.agree, self.calls = agree, []

    def decode_packed(self, packs, opts):
        self.calls.append(("packed", [len(p.members) for p in packs]))
        if not self.agree:
            return [None] * len(packs)
        return [ChunkResult("en", [RawSegment(s, e, f"w{row}") for row, s, e in p.members], -0.2, 0.0, 1.0, 0.0)
                for p in packs]

    def decode(self, chunks, opts):
        self.calls.append(("decode", len(chunks)))
        return [ChunkResult("zh" if k else "en", [RawSegment(0.0, len(c) / SR, f"alone{k}")], -0.2, 0.0, 1.0, 0.0)
                for k, c in enumerate(chunks)]


class _Vad:
    def spans(self, audio):
        return [(SR, len(audio) - SR)]


@pytest.mark.parametrize("agree", [True, False])
def test_joined_windows_keep_their_own_segments_and_languages(agree):
    windows = [_window("s", 0, 0.0, 12, 1), _window("s", 1, 12.0, 12, 2)]
    engine = _Engine(agree)
    t = Transcriber(engine, AsrOptions(batch_size=8, join=True, decode=DecodeOptions(fallback_temperatures=())),
                    vad=_Vad())
    out = list(t.transcribe(windows))
    assert [wt.window.index for wt in out] == [0, 1]
    if agree:  # one input, one call; each window's words at its own times
        assert engine.calls == [("packed", [2])]
        assert [[(s.text, s.t0, s.t1) for s in wt.segments] for wt in out] == [[("w0", 1.0, 11.0)],
                                                                            [("w1", 13.0, 23.0)]]
    else:  # the windows speak different languages: decoded apart, each in its own
        assert engine.calls == [("packed", [2]), ("decode", 2)]
        assert [[(s.text, s.lang, s.t0, s.t1) for s in wt.segments] for wt in out] == [
            [("alone0", "en", 1.0, 11.0)], [("alone1", "zh", 13.0, 23.0)]]
