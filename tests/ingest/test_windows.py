"""Windowing: length bounds, exact tiling, cuts in silence, sampled frames, option checks."""

from __future__ import annotations

import numpy as np
import pytest

from ingest import SAMPLE_RATE, AudioBlock, DecodeStats, VideoFrame, WindowOptions, cut_windows, iter_file_windows
from tests.ingest.helpers import ffmpeg, lavfi_video
from tests.utils.media import write_wav

LONG_S = 70.0
GAP_EVERY_S = 4.1  # not a divisor of 20 or 30, so a cut at a fixed length would land in the tone
GAP_S = 0.3


def _tone_with_gaps() -> tuple[np.ndarray, list[tuple[float, float]]]:
    t = np.arange(int(LONG_S * SAMPLE_RATE)) / SAMPLE_RATE
    audio = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    gaps = []
    g0 = GAP_EVERY_S
    while g0 + GAP_S < LONG_S:
        a, b = int(round(g0 * SAMPLE_RATE)), int(round((g0 + GAP_S) * SAMPLE_RATE))
        audio[a:b] = 0.0
        gaps.append((a / SAMPLE_RATE, b / SAMPLE_RATE))
        g0 += GAP_EVERY_S
    return audio, gaps


@pytest.fixture(scope="module")
def gappy(tmp_path_factory):
    audio, gaps = _tone_with_gaps()
    path = write_wav(tmp_path_factory.mktemp("win") / "gappy.wav", audio)
    return path, gaps


@pytest.fixture(scope="module")
def gappy_windows(gappy):
    path, gaps = gappy
    return list(iter_file_windows(path, stream_id="gappy")), gaps


def test_long_file_window_lengths(gappy_windows):
    windows, _ = gappy_windows
    assert len(windows) >= 3
    for w in windows:
        assert w.duration <= 30.0 + 1e-9
    for w in windows[:-1]:
        assert w.duration >= 20.0 - 1e-9
    assert [w.index for w in windows] == list(range(len(windows)))
    assert {w.stream_id for w in windows} == {"gappy"}


def test_long_file_windows_tile_time(gappy_windows):
    windows, _ = gappy_windows
    assert windows[0].t0 == pytest.approx(0.0, abs=0.1)
    for a, b in zip(windows, windows[1:]):
        assert abs(a.t1 - b.t0) <= 1e-6
    assert windows[-1].t1 == pytest.approx(LONG_S, abs=0.05)
    assert sum(len(w.audio) for w in windows) == pytest.approx(LONG_S * SAMPLE_RATE, abs=SAMPLE_RATE // 20)


def test_cuts_land_in_silence(gappy_windows):
    windows, gaps = gappy_windows
    cuts = [w.t1 for w in windows[:-1]]
    assert cuts
    for cut in cuts:
        assert any(g0 <= cut <= g1 for g0, g1 in gaps), f"cut at {cut:.3f} s is not in a silent gap"
    for w in windows[1:]:  # and therefore each later window starts in silence
        assert float(np.abs(w.audio[:80]).max()) < 1e-3


def test_cuts_land_in_silence_after_lossy_encode(gappy, tmp_path):
    """Same signal through AAC in MP4: codec ringing must not pull the cut out of the gap."""
    path, gaps = gappy
    mp4 = ffmpeg(tmp_path / "gappy.m4a", "-i", str(path), "-c:a", "aac", "-b:a", "96k")
    windows = list(iter_file_windows(mp4))
    assert len(windows) >= 3
    for w in windows[:-1]:
        assert any(g0 - 0.02 <= w.t1 <= g1 + 0.02 for g0, g1 in gaps), f"cut at {w.t1:.3f} s"


@pytest.fixture(scope="module")
def hd_video(tmp_path_factory):
    return ffmpeg(tmp_path_factory.mktemp("vid") / "hd.mp4",
                  *lavfi_video(10, size="1280x720", rate=25),
                  "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=10",
                  "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac")


def test_frames_sampled_at_source_size_up_to_1080_lines_and_scaled_when_asked(hd_video):
    """By default frames keep the source's size up to 1080 lines (small faces are found in source
    pixels); `frame_height` scales them down."""
    native = [f for w in iter_file_windows(hd_video, opts=WindowOptions(frame_fps=2)) for f in w.frames]
    assert native and all(f.image.shape[:2] == (720, 1280) for f in native)
    windows = list(iter_file_windows(hd_video, opts=WindowOptions(frame_fps=2, frame_height=360)))
    frames = [f for w in windows for f in w.frames]
    assert len(frames) == pytest.approx(20, abs=2)
    ts = [f.t for f in frames]
    assert all(a < b for a, b in zip(ts, ts[1:]))
    for w in windows:
        for f in w.frames:
            assert w.t0 <= f.t < w.t1
    for f in frames:
        assert f.image.dtype == np.uint8
        assert f.image.ndim == 3 and f.image.shape[2] == 3
        h, wd = f.image.shape[:2]
        assert h == 360
        assert wd % 2 == 0 and wd == pytest.approx(640, abs=2)


def test_frames_belong_to_their_window_across_many_windows(hd_video):
    """With short windows, every frame must still sit inside the window it is attached to."""
    opts = WindowOptions(min_s=1.0, max_s=1.5, frame_fps=4, frame_height=120)
    windows = list(iter_file_windows(hd_video, opts=opts))
    assert len(windows) >= 6
    frames = [f for w in windows for f in w.frames]
    assert len(frames) == pytest.approx(40, abs=3)
    for w in windows:
        for f in w.frames:
            assert w.t0 <= f.t < w.t1, f"frame at {f.t:.3f} s attached to window [{w.t0:.3f}, {w.t1:.3f})"
        assert all(f.image.shape[0] == 120 for f in w.frames)


def test_frame_height_not_upscaled(tmp_path):
    path = ffmpeg(tmp_path / "small.mp4", *lavfi_video(3, size="320x240"),
                  "-f", "lavfi", "-i", "sine=duration=3", "-c:v", "libx264", "-preset", "ultrafast",
                  "-pix_fmt", "yuv420p", "-c:a", "aac")
    frames = [f for w in iter_file_windows(path, opts=WindowOptions(frame_fps=1)) for f in w.frames]
    assert frames and all(f.image.shape == (240, 320, 3) for f in frames)


def test_frame_fps_zero_gives_no_frames(hd_video):
    stats = DecodeStats()
    windows = list(iter_file_windows(hd_video, opts=WindowOptions(frame_fps=0), stats=stats))
    assert windows
    assert all(w.frames == [] for w in windows)
    assert stats.video_frames == 0
    assert sum(w.duration for w in windows) == pytest.approx(10.0, abs=0.15)


@pytest.mark.parametrize("kwargs", [
    {"min_s": 25.0, "max_s": 20.0},
    {"max_s": 31.0},
    {"min_s": 0.0},
    {"min_s": -1.0, "max_s": 10.0},
    {"frame_fps": -1.0},
])
def test_window_options_validation(kwargs):
    with pytest.raises(ValueError):
        WindowOptions(**kwargs)


def test_window_options_edge_values_accepted():
    WindowOptions(min_s=30.0, max_s=30.0)
    WindowOptions(frame_fps=0)


def test_cut_windows_fills_timestamp_gap_with_silence():
    one = np.full(SAMPLE_RATE * 3, 0.5, np.float32)  # 3 s
    blocks = [AudioBlock(0.0, one), AudioBlock(5.0, one)]  # the second starts 2 s after the first ended
    windows = list(cut_windows(blocks, "s", WindowOptions(min_s=20, max_s=30)))
    assert len(windows) == 1
    (w,) = windows
    assert w.t0 == 0.0
    assert w.duration == pytest.approx(8.0, abs=1e-6)
    assert w.t1 == pytest.approx(8.0, abs=1e-6)
    assert np.all(w.audio[3 * SAMPLE_RATE: 5 * SAMPLE_RATE] == 0.0)
    assert np.all(w.audio[5 * SAMPLE_RATE:] == 0.5)
    assert np.all(w.audio[:3 * SAMPLE_RATE] == 0.5)


def test_cut_windows_gap_keeps_later_windows_on_stream_time():
    sec = np.full(SAMPLE_RATE, 0.5, np.float32)
    blocks = [AudioBlock(float(i), sec) for i in range(10)]
    blocks += [AudioBlock(12.0 + i, sec) for i in range(10)]  # 2 s hole between 10 s and 12 s
    frames = [VideoFrame(13.5, np.zeros((2, 2, 3), np.uint8))]
    items = blocks[:12] + frames + blocks[12:]
    windows = list(cut_windows(items, "s", WindowOptions(min_s=4, max_s=5)))
    assert windows[0].t0 == 0.0
    for a, b in zip(windows, windows[1:]):
        assert abs(a.t1 - b.t0) <= 1e-6
    assert windows[-1].t1 == pytest.approx(22.0, abs=1e-6)
    assert sum(w.duration for w in windows) == pytest.approx(22.0, abs=1e-6)
    (holder,) = [w for w in windows if w.frames]
    assert holder.t0 <= 13.5 < holder.t1
    # the filled hole is silent at its true stream time
    for w in windows:
        i0 = max(0, int(round((10.5 - w.t0) * SAMPLE_RATE)))
        i1 = min(len(w.audio), int(round((11.5 - w.t0) * SAMPLE_RATE)))
        if i1 > i0:
            assert np.all(w.audio[i0:i1] == 0.0)


def test_cut_windows_ignores_small_jitter():
    """Timestamp jitter under 100 ms is not a hole: no silence is inserted."""
    sec = np.full(SAMPLE_RATE, 0.5, np.float32)
    blocks = [AudioBlock(0.0, sec), AudioBlock(1.01, sec), AudioBlock(2.0, sec)]
    (w,) = list(cut_windows(blocks, "s", WindowOptions(min_s=20, max_s=30)))
    assert len(w.audio) == 3 * SAMPLE_RATE
    assert np.all(w.audio == 0.5)


@pytest.mark.parametrize("suffix", [".mp4", ".ts", ".mkv"])
def test_every_frame_lands_in_its_own_window(tmp_path, suffix):
    """Frames decode later than the audio of the same instant (B-frames, interleaving); each must still
    be attached to the window whose [t0, t1) holds it, and none may be lost at the seams."""
    path = ffmpeg(tmp_path / f"bframes{suffix}", *lavfi_video(10, size="320x240", rate=25),
                  "-f", "lavfi", "-i", "sine=sample_rate=44100:duration=10",
                  "-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "3", "-c:a", "aac")
    windows = list(iter_file_windows(path, opts=WindowOptions(min_s=2, max_s=2, frame_fps=25, frame_height=60)))
    assert len(windows) >= 5
    for w in windows:
        for f in w.frames:
            assert w.t0 <= f.t < w.t1, f"frame at {f.t:.3f} s attached to window [{w.t0:.3f}, {w.t1:.3f})"
    assert sum(len(w.frames) for w in windows) == pytest.approx(250, abs=2)


def test_cut_windows_waits_for_late_frames():
    sec = np.full(SAMPLE_RATE, 0.1, np.float32)
    img = np.zeros((2, 2, 3), np.uint8)
    # audio up to 3 s arrives before the frame at 1.9 s, which belongs to the first window [0, 2)
    items = [AudioBlock(0.0, sec), AudioBlock(1.0, sec), AudioBlock(2.0, sec),
             VideoFrame(1.9, img), VideoFrame(2.1, img), AudioBlock(3.0, sec)]
    windows = list(cut_windows(items, "s", WindowOptions(min_s=2, max_s=2)))
    assert [(w.t0, w.t1) for w in windows] == [(0.0, 2.0), (2.0, 4.0)]
    assert [f.t for f in windows[0].frames] == [1.9]
    assert [f.t for f in windows[1].frames] == [2.1]


def test_cut_windows_is_lazy_without_video():
    """Audio-only input: windows come out while the stream is still being read (bounded memory)."""
    consumed = 0

    def blocks():
        nonlocal consumed
        for i in range(3600):  # an hour of 1 s blocks
            consumed += 1
            yield AudioBlock(float(i), np.zeros(SAMPLE_RATE, np.float32))

    first = next(cut_windows(blocks(), "s", WindowOptions()))
    assert first.t0 == 0.0 and first.duration <= 30.0
    assert consumed < 40
