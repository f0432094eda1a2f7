"""The same 12 s recording decodes to the same amount of audio whatever the container and codecs."""

from __future__ import annotations

import pytest

from ingest import SAMPLE_RATE, DecodeStats, iter_file_windows, probe
from tests.ingest.helpers import ffmpeg, lavfi_sine, lavfi_video, need

DURATION = 12.0

# id: (suffix, video encoder args or None, audio encoder args, encoders needed)
CASES = {
    "mp4-h264-aac": (".mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"],
                     ["-c:a", "aac"], ("libx264", "aac")),
    "flv-flv1-mp3": (".flv", ["-c:v", "flv"], ["-c:a", "libmp3lame", "-ar", "44100"], ("flv", "libmp3lame")),
    "flv-h264-aac": (".flv", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"],
                     ["-c:a", "aac"], ("libx264", "aac")),
    "ts-mpeg2-mp2": (".ts", ["-c:v", "mpeg2video"], ["-c:a", "mp2"], ("mpeg2video", "mp2")),
    "ts-h264-aac": (".ts", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"],
                    ["-c:a", "aac"], ("libx264", "aac")),
    "mkv-mpeg4-opus": (".mkv", ["-c:v", "mpeg4", "-pix_fmt", "yuv420p"], ["-c:a", "libopus", "-ar", "48000"],
                       ("mpeg4", "libopus")),
    "mkv-mpeg4-vorbis": (".mkv", ["-c:v", "mpeg4", "-pix_fmt", "yuv420p"], ["-c:a", "libvorbis"],
                         ("mpeg4", "libvorbis")),
    "mkv-mpeg4-flac": (".mkv", ["-c:v", "mpeg4", "-pix_fmt", "yuv420p"], ["-c:a", "flac"], ("mpeg4", "flac")),
    "webm-vp8-opus": (".webm", ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"],
                      ["-c:a", "libopus", "-ar", "48000"], ("libvpx", "libopus")),
    "wav-audio-only": (".wav", None, ["-c:a", "pcm_s16le"], ("pcm_s16le",)),
    "m4a-aac-audio-only": (".m4a", None, ["-c:a", "aac"], ("aac",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_container_audio_duration_matches_source(case, tmp_path):
    suffix, vargs, aargs, needed = CASES[case]
    need(*needed)
    inputs = (lavfi_video(DURATION) if vargs else []) + lavfi_sine(DURATION)
    path = ffmpeg(tmp_path / f"src{suffix}", *inputs, *(vargs or []), *aargs, "-ac", "2")

    info = probe(path)
    assert info.has_audio
    assert info.has_video == (vargs is not None)

    stats = DecodeStats()
    windows = list(iter_file_windows(path, stream_id=case, stats=stats))
    total = sum(w.duration for w in windows)
    assert total == pytest.approx(DURATION, abs=0.15), f"{case}: decoded {total:.3f} s of audio"
    assert windows[0].t0 == pytest.approx(0.0, abs=0.1)
    assert windows[-1].t1 == pytest.approx(DURATION, abs=0.15)
    assert stats.audio_samples == sum(len(w.audio) for w in windows)
    assert stats.bad_packets == 0 and stats.first_error is None
    # a real signal came through, not silence
    assert max(float(abs(w.audio).max()) for w in windows) > 0.05
    if vargs is not None:
        frames = [f for w in windows for f in w.frames]
        assert len(frames) == pytest.approx(DURATION, abs=2)  # default frame_fps=1
        assert stats.video_frames >= len(frames)
    assert all(w.audio.dtype.name == "float32" and w.audio.ndim == 1 for w in windows)
    assert SAMPLE_RATE == 16000


def test_a_wav_whose_codec_ffmpeg_cannot_decode_is_a_clear_error(tmp_path):
    """36-bit PCM in a WAV opens, but FFmpeg has no decoder for it (stream.codec_context is None):
    a per-file MediaOpenError, not an AttributeError that ends a whole batch."""
    import struct

    from ingest import decode_media
    from liveguard.errors import MediaOpenError

    align = 5  # one channel of 36-bit samples
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000 * align, align, 36)
    data = bytes(align * 800)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "36bit.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(MediaOpenError, match="codec is not one FFmpeg can decode"):
        probe(path)
    with pytest.raises(MediaOpenError, match="codec is not one FFmpeg can decode"):
        list(decode_media(path))
