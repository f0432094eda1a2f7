"""Live monitoring on Ray, end to end, against real servers on loopback and the real Whisper base:
three protocols at once, a stream that never connects, an ASR actor killed mid-run, clips."""

import threading
import time

import pytest

from asr.transcriber import AsrOptions, Transcriber
from ingest.decode import probe
from ingest.live import LiveOptions
from liveguard.bench_asr import load_audio
from ingest.windows import Window
from pipeline.live import MonitorOptions
from tests.utils.media import assemble, make_recording, run
from tests.utils.servers import flv_server, free_port, hls_server, rtmp_server

pytestmark = pytest.mark.realtime  # wall-clock deadlines: run alone, not beside other tests (Makefile)

ray = pytest.importorskip("ray")

SCRIPT = [1.0, "Hello everyone, welcome to the live room.", 1.0, "This tea will cure your diabetes.", 4.0,
          "Thank you for joining us today.", 1.0, "It is the best serum in the world.", 3.0]


@pytest.fixture(scope="module")
def claim_stream(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live_claims")
    audio, placed = assemble(SCRIPT, tmp)
    mp4 = make_recording(tmp / "room.mp4", audio)
    flv = tmp / "room.flv"  # keyframe every second so the recording can cut anywhere
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(mp4), "-c:v", "libx264", "-g", "10",
         "-c:a", "aac", "-f", "flv", str(flv)])
    return flv, {p.text: p for p in placed}


@pytest.fixture(scope="module")
def ray_local():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_three_protocols_findings_clips_dead_stream_and_asr_restart(claim_stream, ray_local, tmp_path,
                                                                   base_whisper):
    from pipeline.ray_monitor import RayMonitor, StreamSpec

    src, placed = claim_stream
    records, lock = [], threading.Lock()

    def on_record(rec):
        with lock:
            records.append(rec)

    opts = MonitorOptions(window_max_s=6, window_min_s=3, clip_before_s=2, clip_after_s=2,
                          live=LiveOptions(read_timeout_s=3, backoff_initial_s=0.3, give_up_after_s=4))
    with rtmp_server(src) as (rtmp, _), flv_server(src) as (flv, _), hls_server(src, tmp_path / "hls", loop=True) as (hls, _):
        # RTMP and HTTP-FLV servers wait for their client; HLS is truly live and loops, so the monitor
        # (which starts its ASR model first) joins it mid-way and sees the claims on a later pass.
        time.sleep(0.5)
        mon = RayMonitor([StreamSpec("rtmp", rtmp), StreamSpec("flv", flv), StreamSpec("hls", hls),
                          StreamSpec("dead", f"http://127.0.0.1:{free_port()}/nothing.flv")],
                         tmp_path / "work", opts, on_record=on_record)
        mon.start()
        killed = {}

        def seen_all(sid):
            with lock:
                mine = [r for r in records if r.get("source") == sid]
            return (any(r["type"] == "finding" and r["label"] == "medical_claim_non_drug" for r in mine)
                    and any(r["type"] == "transcript" and r["t0"] > 12 for r in mine))

        def kill_asr_after_first_finding(m):
            # mid-batch: an idle actor killed is restarted by Ray before the next call notices
            if not killed and m.inflight and any(r["type"] == "finding" for r in records):
                killed["at"] = time.time()
                ray.kill(m.asr[0], no_restart=False)  # Ray restarts it; the batch is sent again
            # everything asserted below has happened: stop as a timed stop does (clips are cut then)
            if killed and m.asr_restarts >= 1 and all(seen_all(s) for s in ("rtmp", "flv", "hls")):
                m.request_stop()

        try:
            mon.run(duration_s=45, on_status=kill_asr_after_first_finding, status_every_s=0.5)
        finally:
            mon.stop()

    by = lambda t, s: [r for r in records if r["type"] == t and r["source"] == s]  # noqa: E731
    dead = by("stream_ended", "dead")
    assert dead and "unreachable" in dead[0]["reason"], records
    assert killed and mon.asr_restarts >= 1
    for sid in ("rtmp", "flv", "hls"):
        assert by("transcript", sid), f"{sid}: no transcript"
        labels = {r["label"] for r in by("finding", sid)}
        assert "medical_claim_non_drug" in labels, (sid, [r["text"] for r in by("transcript", sid)])
        # after the ASR actor was killed and restarted, the stream went on being transcribed
        assert any(r["t0"] > 12 for r in by("transcript", sid)), (sid, records)
        clips = [r for r in by("clip", sid) if r["label"] == "medical_claim_non_drug"]
        assert clips, (sid, by("error", sid))
        info = probe(clips[0]["path"])
        assert info.has_audio and info.has_video and 3 < info.duration_s < 12
        # the clip holds the claim's words
        t = Transcriber(base_whisper, AsrOptions(batch_size=1))
        (wt,) = t.transcribe([Window("clip", 0, 0.0, load_audio(clips[0]["path"]))])
        assert "diabetes" in " ".join(s.text for s in wt.segments).lower()
