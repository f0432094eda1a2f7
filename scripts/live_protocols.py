"""Three live sources of different protocols at once, one of them killed and restarted mid-run:
the acceptance check of live monitoring, measured (delays) rather than asserted.

    .venv/bin/python scripts/live_protocols.py [--file samples/live_room_en.mp4] [--kill-at 12]

Serves the recording on loopback as RTMP and HTTP-FLV (FFmpeg in listen mode) and as live HLS
(a sliding playlist served over HTTP), monitors all three with the full live path (Ray actors,
batched ASR, claims, clips), kills the HTTP-FLV server at --kill-at seconds and starts it again on
the same port, then prints per stream: findings, speech-to-finding delays, reconnects, gaps, and
whether every finding's clip plays (has audio and video).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.decode import probe  # noqa: E402
from liveguard.errors import MediaError  # noqa: E402
from pipeline.live import MonitorOptions  # noqa: E402
from pipeline.ray_monitor import RayMonitor, StreamSpec  # noqa: E402
from tests.utils.servers import flv_server, free_port, hls_server, rtmp_server  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default="samples/live_room_en.mp4")
    ap.add_argument("--kill-at", type=float, default=12.0, help="seconds into the run the HTTP-FLV server is killed")
    ap.add_argument("--duration", type=float, default=75.0)
    ap.add_argument("--records", help="write every monitor record here (JSON lines)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lg-protocols-"))
    flv = work / "room.flv"  # a keyframe every second, so clips can start anywhere
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", args.file, "-c:v", "libx264",
                    "-g", "10", "-c:a", "aac", "-f", "flv", str(flv)], check=True)
    records, lock = [], threading.Lock()

    def on_record(rec: dict) -> None:
        with lock:
            records.append(rec)

    flv_port = free_port()
    with ExitStack() as stack:
        rtmp, _ = stack.enter_context(rtmp_server(flv))
        http_flv, flv_proc = stack.enter_context(flv_server(flv, port=flv_port))
        hls, _ = stack.enter_context(hls_server(flv, work / "hls", loop=True))
        mon = RayMonitor([StreamSpec("rtmp", rtmp), StreamSpec("http-flv", http_flv), StreamSpec("hls", hls)],
                         work / "monitor", MonitorOptions(), on_record=on_record)
        mon.start()
        t0 = time.time()
        state = {"killed": False}

        def kill_and_restart(m) -> None:
            if not state["killed"] and time.time() - t0 >= args.kill_at:
                state["killed"] = True
                flv_proc.kill()
                time.sleep(2.0)  # the source is gone for a while, then comes back on the same port
                stack.enter_context(flv_server(flv, port=flv_port))

        try:
            mon.run(duration_s=args.duration, on_status=kill_and_restart, status_every_s=0.5)
        finally:
            mon.stop()

    if args.records:
        Path(args.records).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    print(f"{args.file} served on loopback; HTTP-FLV killed at {args.kill_at:.0f} s and restarted; 2 CPUs, "
          f"engine auto, windows <= {MonitorOptions().window_max_s:g} s")
    print(f"{'stream':9s} {'findings':>8s} {'p50 s':>6s} {'p95 s':>6s} {'max s':>6s} {'reconn':>6s} {'gaps':>4s} "
          f"{'clips ok':>8s} {'last t':>6s}")
    ok = True
    for sid in ("rtmp", "http-flv", "hls"):
        found = [r for r in records if r["type"] == "finding" and r["source"] == sid]
        delays = [r["delay_s"] for r in found if r.get("delay_s") is not None]
        clips = [r for r in records if r["type"] == "clip" and r["source"] == sid]
        playable = 0
        for c in clips:
            try:
                info = probe(c["path"])
                playable += info.has_audio and info.has_video
            except MediaError:
                pass
        snap = mon.snapshots.get(sid)
        last_t = max((r["t1"] for r in records if r["type"] == "transcript" and r["source"] == sid), default=0.0)
        print(f"{sid:9s} {len(found):8d} {_pct(delays, 0.5):6.1f} {_pct(delays, 0.95):6.1f} "
              f"{max(delays, default=float('nan')):6.1f} {snap.reconnects if snap else 0:6d} "
              f"{len(snap.gaps) if snap else 0:4d} {playable:4d}/{len(found):<3d} {last_t:6.1f}")
        ok &= bool(found) and playable == len(found) and _pct(delays, 0.95) < 10.0
    print("all three within the 10-s bound, every finding with a playable clip:", "yes" if ok else "no")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
