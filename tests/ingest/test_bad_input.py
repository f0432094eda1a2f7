"""Unusable and damaged inputs: clear MediaOpenError / NoAudioStreamError, or partial decode without crashing."""

from __future__ import annotations

import numpy as np
import pytest

from ingest import SAMPLE_RATE, DecodeStats, VideoFrame, WindowOptions, decode_media, iter_file_windows, probe
from liveguard.errors import LiveGuardError, MediaDecodeError, MediaOpenError, NoAudioStreamError
from tests.ingest.helpers import ffmpeg, lavfi_sine, lavfi_video

H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def _windows(path, **kw):
    return list(iter_file_windows(path, **kw))


@pytest.fixture(scope="module")
def av_mp4(tmp_path_factory):
    return ffmpeg(tmp_path_factory.mktemp("bad") / "av.mp4", *lavfi_video(12), *lavfi_sine(12),
                  *H264, "-c:a", "aac")


@pytest.fixture(scope="module")
def marked_mp4(tmp_path_factory):
    """12 s of tone that stops at exactly 11.0 s: a time marker after any damage in the middle."""
    tone = "aevalsrc=if(lt(t\\,11)\\,0.5*sin(2*PI*440*t)\\,0):s=44100:d=12"
    return ffmpeg(tmp_path_factory.mktemp("bad") / "marked.mp4", *lavfi_video(12), "-f", "lavfi", "-i", tone,
                  *H264, "-c:a", "aac")


@pytest.fixture(scope="module")
def av_ts(tmp_path_factory):
    return ffmpeg(tmp_path_factory.mktemp("bad") / "av.ts", *lavfi_video(12), *lavfi_sine(12),
                  *H264, "-c:a", "aac")


def test_missing_path(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(MediaOpenError, match="nope.mp4"):
        probe(missing)
    with pytest.raises(MediaOpenError, match="nope.mp4"):
        _windows(missing)


def test_directory(tmp_path):
    with pytest.raises(MediaOpenError):
        probe(tmp_path)
    with pytest.raises(MediaOpenError):
        _windows(tmp_path)


def test_text_file_named_mp4(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a shopping list, not a video\n" * 20)
    with pytest.raises(MediaOpenError, match="notes.mp4"):
        probe(fake)
    with pytest.raises(MediaOpenError, match="notes.mp4"):
        _windows(fake)


def test_random_bytes_flv(tmp_path):
    junk = tmp_path / "junk.flv"
    junk.write_bytes(np.random.default_rng(1234).bytes(200_000))
    with pytest.raises(MediaOpenError, match="junk.flv"):
        probe(junk)
    with pytest.raises(MediaOpenError, match="junk.flv"):
        _windows(junk)


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaOpenError):
        _windows(empty)


def test_mp4_cut_before_moov(av_mp4, tmp_path):
    data = av_mp4.read_bytes()
    assert data.rfind(b"moov") > 0.5 * len(data), "expected ffmpeg's default layout: moov at the end"
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(0.3 * len(data))])
    with pytest.raises(MediaOpenError, match="cut.mp4"):
        probe(cut)
    with pytest.raises(MediaOpenError, match="cut.mp4"):
        _windows(cut)


def test_video_only(tmp_path):
    path = ffmpeg(tmp_path / "silent.mp4", *lavfi_video(3), *H264)
    info = probe(path)
    assert info.has_video and not info.has_audio
    assert (info.width, info.height) == (320, 240)
    windows = iter_file_windows(path)  # lazy: nothing happens until iterated
    with pytest.raises(NoAudioStreamError):
        next(windows)


def test_probe_reports_streams(av_mp4):
    info = probe(av_mp4)
    assert info.has_audio and info.has_video
    assert info.audio_codec == "aac" and info.video_codec == "h264"
    assert info.duration_s == pytest.approx(12.0, abs=0.2)


def test_truncated_ts_decodes_the_part_that_is_there(av_ts, tmp_path):
    data = av_ts.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: int(0.6 * len(data))])
    stats = DecodeStats()
    windows = _windows(cut, stats=stats)
    assert windows
    covered = windows[-1].t1 - windows[0].t0
    assert covered == pytest.approx(0.6 * 12.0, abs=0.15 * 12.0)
    assert windows[0].t0 == pytest.approx(0.0, abs=0.1)
    assert stats.audio_samples == sum(len(w.audio) for w in windows)


def _rms_at(windows, t0, t1):
    parts = []
    for w in windows:
        i0, i1 = max(0, round((t0 - w.t0) * SAMPLE_RATE)), min(len(w.audio), round((t1 - w.t0) * SAMPLE_RATE))
        if i1 > i0:
            parts.append(w.audio[i0:i1])
    return float(np.sqrt(np.mean(np.square(np.concatenate(parts)))))


def test_marker_fixture_is_sound(marked_mp4):
    windows = _windows(marked_mp4)
    assert _rms_at(windows, 10.5, 10.9) > 0.2
    assert _rms_at(windows, 11.1, 11.9) < 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mp4_with_corrupted_middle(marked_mp4, tmp_path, seed):
    data = bytearray(marked_mp4.read_bytes())
    n = len(data)
    a, b = int(0.45 * n), int(0.55 * n)
    data[a:b] = np.random.default_rng(seed).bytes(b - a)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))

    stats = DecodeStats()
    try:
        windows = _windows(bad, stats=stats)
    except LiveGuardError as exc:  # the only acceptable failure is a clean "decode failed"
        assert isinstance(exc, MediaDecodeError), repr(exc)
        return
    assert windows
    # DecodeStats agrees with what came out: decoded samples plus silence filled into holes
    total = sum(len(w.audio) for w in windows)
    assert 0 < stats.audio_samples <= total
    assert stats.bad_packets >= 0
    assert (stats.first_error is None) == (stats.bad_packets == 0)
    assert stats.video_frames >= sum(len(w.frames) for w in windows)
    for x, y in zip(windows, windows[1:]):
        assert abs(x.t1 - y.t0) <= 1e-6
    assert all(np.isfinite(w.audio).all() for w in windows)
    assert all(float(np.abs(w.audio).max()) <= 1.0 for w in windows)
    # lost audio becomes a hole, not a time shift: the end and the 11.0 s marker stay where they are
    assert windows[-1].t1 == pytest.approx(12.0, abs=0.15)
    assert _rms_at(windows, 10.5, 10.9) > 0.2
    assert _rms_at(windows, 11.1, 11.9) < 0.01


def test_decode_media_frame_times_inside_duration(av_mp4):
    frames = [i for i in decode_media(av_mp4, frame_fps=1) if isinstance(i, VideoFrame)]
    assert len(frames) == pytest.approx(12, abs=1)
    assert all(0 <= f.t < 12.0 for f in frames)


def test_window_options_used_by_iter_file_windows(av_mp4):
    windows = _windows(av_mp4, opts=WindowOptions(min_s=4, max_s=5, frame_fps=0))
    assert len(windows) >= 3
    assert all(w.duration <= 5.0 + 1e-9 for w in windows)
    assert all(w.duration >= 4.0 - 1e-9 for w in windows[:-1])
