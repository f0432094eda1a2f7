"""Live sources against real servers on loopback: HTTP-FLV, RTMP and HLS served by FFmpeg."""

import time

import numpy as np
import pytest

from ingest.decode import AudioBlock, probe
from ingest.live import LiveOptions, LiveSource
from ingest.recorder import ClipError, RecorderOptions, StreamRecorder, cut_clip
from tests.utils.media import make_recording
from tests.utils.servers import flv_server, free_port, hls_server, rtmp_server

pytestmark = pytest.mark.realtime  # wall-clock deadlines: run alone, not beside other tests (Makefile)

FAST = LiveOptions(read_timeout_s=2.0, backoff_initial_s=0.3, backoff_max_s=1.0, give_up_after_s=20.0)


@pytest.fixture(scope="module")
def tone_video(tmp_path_factory):
    """20 s of a 440 Hz tone with a picture, keyframe every second (segments can start anywhere)."""
    t = np.arange(20 * 16000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path_factory.mktemp("live") / "tone.flv"
    make_recording(path.with_suffix(".mp4"), audio)
    from tests.utils.media import run
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(path.with_suffix(".mp4")), "-c:v", "libx264",
         "-g", "10", "-c:a", "aac", "-f", "flv", str(path)])
    return path


def _collect(items, until=lambda: False, limit_s: float = 30.0, on_item=None) -> list[AudioBlock]:
    """Audio blocks from `items` until `until()` holds or `limit_s` of wall time has passed."""
    blocks, deadline = [], time.time() + limit_s
    for item in items:
        if isinstance(item, AudioBlock):
            blocks.append(item)
        if on_item:
            on_item(item)
        if until() or time.time() > deadline:
            break
    return blocks


def _read(source: LiveSource, seconds: float, on_item=None) -> list[AudioBlock]:
    """Audio blocks until `seconds` of stream time have been delivered (bounded by wall time)."""
    blocks = _collect(source.items(), lambda: source.status.stream_t >= seconds, seconds * 3 + 15, on_item)
    source.stop.set()
    return blocks


def _assert_monotonic(blocks):
    ends = [b.t0 + len(b.samples) / 16000 for b in blocks]
    for prev_end, b in zip(ends, blocks[1:]):
        assert b.t0 >= prev_end - 1e-3, "stream time went backwards"


def test_http_flv_source_killed_and_restarted_reconnects_with_monotonic_time(tone_video):
    port = free_port()
    killed = {"done": False}
    with flv_server(tone_video, port) as (url, proc):
        source = LiveSource(url, FAST)

        def kill_once(item):
            if not killed["done"] and source.status.stream_t > 4:
                killed["done"] = True
                proc.kill()
                killed["at"] = source.status.stream_t

        # The restarted server is started by a second context once the first is dead.
        blocks = []
        items = source.items()
        for item in items:
            if isinstance(item, AudioBlock):
                blocks.append(item)
            kill_once(item)
            if killed["done"]:
                break
        with flv_server(tone_video, port):
            deadline = time.time() + 30
            for item in items:
                if isinstance(item, AudioBlock):
                    blocks.append(item)
                if source.status.reconnects and source.status.stream_t > killed["at"] + 3 or time.time() > deadline:
                    break
        source.stop.set()
    _assert_monotonic(blocks)
    assert source.status.reconnects == 1
    (gap,) = source.status.gaps
    assert gap.t0 >= killed["at"] - 0.5 and gap.t1 > gap.t0
    assert blocks[-1].t0 > killed["at"] + 2


def test_stream_that_never_connects_ends_with_a_clear_reason():
    source = LiveSource(f"rtmp://127.0.0.1:{free_port()}/live/none",
                        LiveOptions(read_timeout_s=1, backoff_initial_s=0.2, backoff_max_s=0.5, give_up_after_s=2))
    t = time.time()
    assert list(source.items()) == []
    assert time.time() - t < 10
    assert source.status.ended and "unreachable" in source.status.ended_reason
    assert "rtmp://127.0.0.1" in source.status.ended_reason


def test_hls_live_playlist(tone_video, tmp_path):
    with hls_server(tone_video, tmp_path / "hls") as (url, _):
        blocks = _read(LiveSource(url, FAST), 4.0)
    audio = np.concatenate([b.samples for b in blocks])
    assert len(audio) >= 3.5 * 16000
    spectrum = np.abs(np.fft.rfft(audio[:16000]))
    assert abs(np.argmax(spectrum) * 16000 / 16000 - 440) < 5  # the tone came through intact
    _assert_monotonic(blocks)


def test_rtmp_recording_and_clip_cutting(tone_video, tmp_path):
    rec = StreamRecorder(tmp_path / "rec", RecorderOptions(segment_s=2.0, retention_s=60))
    with rtmp_server(tone_video) as (url, _):
        _read(LiveSource(url, FAST, recorder=rec), 8.0)
    start, end = rec.covered()
    assert start == pytest.approx(0, abs=0.5) and end >= 6
    assert len(rec.segments) >= 2
    clip = rec.cut_clip(2.0, 5.0, tmp_path / "clips" / "c.mp4")
    info = probe(clip)
    # remuxed from the keyframe at or before 2.0 s (one every 10 frames here): a little lead, never less
    assert info.has_audio and info.has_video and 2.9 <= info.duration_s <= 3.0 + 1.0
    exact = cut_clip(rec.segments, 2.0, 5.0, tmp_path / "clips" / "exact.mp4", reencode=True)
    assert probe(exact).duration_s == pytest.approx(3.0, abs=0.4)
    with pytest.raises(ClipError, match="not in the recording"):
        rec.cut_clip(100.0, 105.0, tmp_path / "clips" / "late.mp4")


def test_retention_deletes_old_segments(tone_video, tmp_path):
    rec = StreamRecorder(tmp_path / "rec", RecorderOptions(segment_s=1.0, retention_s=3.0))
    _read(LiveSource(str(tone_video), LiveOptions(realtime=False), recorder=rec), 12.0)
    assert rec.covered()[0] >= 12.0 - 3.0 - 2.5
    assert len(list((tmp_path / "rec").glob("*_s*_*.*"))) == len(rec.segments)


def test_file_played_live_is_paced_in_real_time_and_ends(tone_video):
    source = LiveSource(str(tone_video), LiveOptions(realtime=True))
    t = time.time()
    _read(source, 3.0)
    assert time.time() - t >= 2.5
    quick = LiveSource(str(tone_video), LiveOptions(realtime=False))
    assert sum(len(b.samples) for b in quick.items() if isinstance(b, AudioBlock)) > 19 * 16000
    assert quick.status.ended_reason == "end of file"


def test_stalled_hls_is_read_once_and_ends_after_give_up(tone_video, tmp_path):
    """A source that dies and leaves its playlist (no #EXT-X-ENDLIST): what it published is read
    exactly once, however often the monitor reconnects, and the stream ends as stalled."""
    opts = LiveOptions(read_timeout_s=1.0, backoff_initial_s=0.2, backoff_max_s=0.5, give_up_after_s=4.0)
    with hls_server(tone_video, tmp_path / "hls") as (url, proc):
        source = LiveSource(url, opts)
        items = source.items()
        blocks = _collect(items, lambda: source.status.stream_t >= 5)
        proc.kill()  # the encoder crashes; the playlist stays as it was
        proc.wait()
        published = (tmp_path / "hls" / "live.m3u8").read_text().count("#EXTINF")
        t = time.time()
        blocks += _collect(items)  # bounded: a replaying reader would never end by itself
        waited = time.time() - t
    assert source.status.ended and "stalled" in source.status.ended_reason
    assert waited < 4.0 + 10
    audio_s = sum(len(b.samples) for b in blocks) / 16000
    # a replay would add whole published segments again on every reconnect
    assert audio_s <= source.hls.segments_read * 1.0 + 1.5
    assert source.hls.segments_read <= published + 8
    _assert_monotonic(blocks)


def test_hls_resumes_after_the_last_segment_read(tone_video, tmp_path):
    """A restarted reader given the saved sequence number goes on from there (no segment twice)."""
    with hls_server(tone_video, tmp_path / "hls") as (url, _):
        first = LiveSource(url, FAST)
        _read(first, 3.0)
        nxt = first.hls.next_seq
        second = LiveSource(url, FAST, resume=(first.start_wall, first.status.stream_t), hls_next_seq=nxt)
        blocks = _read(second, first.status.stream_t + 2.0)
    assert second.hls.next_seq > nxt
    assert blocks[0].t0 >= first.status.stream_t - 1e-3


def test_dead_hls_url_ends_with_the_http_error():
    import http.server
    import threading

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        source = LiveSource(f"http://127.0.0.1:{httpd.server_address[1]}/nothing/live.m3u8",
                            LiveOptions(read_timeout_s=1, backoff_initial_s=0.2, backoff_max_s=0.5, give_up_after_s=2))
        assert list(source.items()) == []
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert source.status.ended and "HTTP 404" in source.status.ended_reason
    assert not source.status.delivered_any and source.status.failures >= 2


def test_hls_encoder_restarting_its_numbers_is_followed_not_taken_for_a_stall(tone_video, tmp_path):
    """An encoder that restarts writes media sequence 0 again: the reader follows it (a new timeline)."""
    opts = LiveOptions(read_timeout_s=1.0, backoff_initial_s=0.2, backoff_max_s=0.5, give_up_after_s=6.0,
                       hls_start_segments=100)
    with hls_server(tone_video, tmp_path / "hls") as (url, proc):
        source = LiveSource(url, opts)
        items = source.items()
        blocks = _collect(items, lambda: source.status.stream_t >= 8)
        proc.kill()
        proc.wait()
        seq_before = source.hls.next_seq
        for f in (tmp_path / "hls").glob("*"):
            f.unlink()
        with hls_server(tone_video, tmp_path / "hls") as (url2, _):  # same folder, numbers from 0 again
            assert url2.rsplit("/", 1)[1] == url.rsplit("/", 1)[1]
            source.url = url2
            source.hls.media_url = None
            blocks += _collect(items, lambda: source.status.stream_t >= 14)
            source.stop.set()
    assert source.status.stream_t >= 14 and not source.status.ended, source.status
    assert source.hls.next_seq < seq_before  # it went on from the restarted encoder's numbers
    _assert_monotonic(blocks)
