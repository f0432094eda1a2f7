import numpy as np

from ingest.decode import SAMPLE_RATE
from ingest.windows import Window
from pipeline.live import merge_backlog


def _w(stream: str, index: int, t0: float, seconds: float) -> Window:
    audio = np.full(int(seconds * SAMPLE_RATE), index + 1, np.float32)
    return Window(stream, index, t0, audio, frames=[f"{stream}{index}"])


def test_waiting_windows_of_a_stream_are_joined_up_to_the_limit():
    pending = [(_w("a", 0, 0.0, 8), 1.0), (_w("b", 0, 0.0, 8), 1.5), (_w("a", 1, 8.0, 8), 2.0),
               (_w("a", 2, 16.0, 8), 3.0), (_w("a", 3, 24.0, 8), 4.0)]
    out = merge_backlog(pending, 28.0)
    assert [(w.stream_id, w.index, w.t0, w.duration, ready) for w, ready in out] == [
        ("a", 0, 0.0, 24.0, 1.0), ("b", 0, 0.0, 8.0, 1.5), ("a", 3, 24.0, 8.0, 4.0)]
    joined = out[0][0]
    assert joined.frames == ["a0", "a1", "a2"]
    # the audio is the three windows back to back, in time order
    assert [joined.audio[int(t * SAMPLE_RATE)] for t in (1, 9, 17)] == [1.0, 2.0, 3.0]


def test_gaps_and_the_off_switch_keep_windows_apart():
    pending = [(_w("a", 0, 0.0, 8), 1.0), (_w("a", 1, 12.0, 8), 2.0)]  # 4 s gap: a reconnect
    assert [w.index for w, _ in merge_backlog(pending, 28.0)] == [0, 1]
    contiguous = [(_w("a", 0, 0.0, 8), 1.0), (_w("a", 1, 8.0, 8), 2.0)]
    assert [w.index for w, _ in merge_backlog(contiguous, 0)] == [0, 1]
    assert [w.duration for w, _ in merge_backlog(contiguous, 28.0)] == [16.0]
