"""A drop flushes the audio held so far as a window (a claim just before a drop is checked at once)."""

import numpy as np

from ingest.decode import AudioBlock
from ingest.windows import StreamBreak, WindowOptions, cut_windows


def test_a_break_releases_the_partial_window_and_the_next_audio_starts_fresh():
    opts = WindowOptions(max_s=8.0, min_s=4.0, frame_fps=0)
    block = lambda t, s: AudioBlock(t, np.full(int(s * 16000), 0.1, np.float32))  # noqa: E731
    out = []
    it = cut_windows(iter([block(0.0, 1.0), block(1.0, 1.5), StreamBreak(2.5), block(30.0, 2.0)]), "s", opts)
    for w in it:
        out.append(w)
        if len(out) == 1:
            # released at the break, before any later audio: 2.5 s, not held for a full window
            assert (w.t0, round(w.duration, 3)) == (0.0, 2.5)
    assert len(out) == 2
    assert out[1].t0 == 30.0 and round(out[1].duration, 3) == 2.0  # no 27.5 s of made-up silence
