"""Keyframe-aligned sampling (ingest.decode._KeyframeClock, #14 fifth pass): with keyframes every 2 s
or more often, samples at 1 frame/s come from keyframes alone, nothing else is decoded, and the
pictures are the ones a full decode gives; longer GOPs keep sampling every second."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from ingest.decode import KEY_ONLY_SHARE, DecodeStats, VideoFrame, decode_media
from ingest.windows import WindowOptions, iter_file_windows


def _video(out, gop_frames: int, duration: float = 12.0, rate: int = 25):
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=320x240:rate={rate}:duration={duration}", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={duration}", "-c:v", "libx264", "-preset", "veryfast",
                    "-g", str(gop_frames), "-keyint_min", str(gop_frames), "-sc_threshold", "0",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out)], check=True)
    return out


def _frames(path, **kw) -> list[VideoFrame]:
    return [i for i in decode_media(path, frame_fps=1, **kw) if isinstance(i, VideoFrame)]


@pytest.fixture(scope="module")
def two_s_gop(tmp_path_factory):
    return _video(tmp_path_factory.mktemp("gop") / "gop2.mp4", 50)


def test_with_keyframes_every_2_s_samples_are_keyframes_alone_once_the_gop_is_known(two_s_gop):
    assert KEY_ONLY_SHARE == 0.5
    ts = [round(f.t, 2) for f in _frames(two_s_gop)]
    # every second until three keyframes came (0, 2, 4 s: a steady 2-s GOP), then the keyframe at or after each slot
    assert ts[:5] == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0], abs=0.2)
    assert ts[5:] == [6.0, 8.0, 10.0]


def test_keyframe_samples_are_the_pictures_a_full_decode_gives(two_s_gop):
    full = {round(f.t, 2): f.image for f in _frames(two_s_gop, key_share=0)}
    keys = {round(f.t, 2): f.image for f in _frames(two_s_gop)}
    assert len(full) == 12 and set(keys) <= set(full)  # key_share 0: every second, as before
    for t in (6.0, 8.0, 10.0):
        assert np.array_equal(keys[t], full[t]), t


def test_keyframe_samples_reach_their_windows(two_s_gop):
    """A keyframe decoded alone comes out at once (not held by the decoder's frame threads past the
    LATE_FRAME_S windows wait for), and the decoder's last frames are flushed at the end."""
    stats = DecodeStats()
    windows = list(iter_file_windows(two_s_gop, opts=WindowOptions(max_s=3.0, min_s=2.0), stats=stats))
    ts = [round(f.t, 2) for w in windows for f in w.frames]
    assert ts[5:] == [6.0, 8.0, 10.0] and stats.video_frames == len(ts)


def test_a_long_gop_keeps_sampling_every_second(tmp_path):
    """A recording with a keyframe every 5 s: keyframes alone would give one sample in 5 s, under
    KEY_ONLY_SHARE of the rate asked for, so every second is still sampled (up to the next keyframe)."""
    path = _video(tmp_path / "gop5.mp4", 125)
    ts = [round(f.t) for f in _frames(path)]
    assert ts == list(range(12))
