"""`liveguard bench live`: how many real-time streams one machine keeps up with.

Each trial plays N copies of a recording at real-time speed through the full live path (Ray
ingest actors, cross-stream batched ASR, claims, clips) and records every finding's
speech-to-finding delay and every dropped window. A trial passes when p95 delay < 10 s and
nothing was dropped. The naive baseline is the same path with one Whisper call per window
(batch size 1: no cross-stream batching), measured in the same run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pipeline.live import MonitorOptions
from pipeline.ray_monitor import RayMonitor, StreamSpec

__all__ = ["run_live_bench", "format_live_bench", "DELAY_BOUND_S"]

DELAY_BOUND_S = 10.0


def _percentile(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def _trial(file: str, n: int, batch_size: int, opts: MonitorOptions, model: str, device: str | None,
           engine: str, duration_s: float | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="lg-bench-live-"))
    clips = {"clip": 0, "clip_failed": 0}

    def count(rec: dict) -> None:  # clips are cut during the run, as in `monitor`
        if rec["type"] in clips:
            clips[rec["type"]] += 1

    try:
        mon = RayMonitor([StreamSpec(f"s{i + 1}", file) for i in range(n)], work,
                         replace(opts, batch_size=batch_size), model=model, device=device, engine=engine,
                         on_record=count)
        mon.start()
        t = time.time()
        try:
            mon.run(duration_s=duration_s)
        finally:
            mon.stop()
        delays = [d for ds in mon.processor.delays.values() for d in ds]
        dropped = sum(s.dropped for s in mon.snapshots.values())
        p95 = _percentile(delays, 0.95)
        return {"streams": n, "batch_size": batch_size, "findings": len(delays), "dropped_windows": dropped,
                "clips": clips["clip"], "clips_failed": clips["clip_failed"],
                "p50_s": _percentile(delays, 0.5), "p95_s": p95, "max_s": max(delays, default=float("nan")),
                "wall_s": time.time() - t, "ok": bool(delays) and p95 < DELAY_BOUND_S and dropped == 0}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_live_bench(file: str, streams: list[int], model: str = "whisper-base", device: str | None = None,
                   engine: str = "auto", batch_size: int = 8, window_s: float = 8.0, duration_s: float | None = None,
                   naive: bool = True, merge_max_s: float = 28.0) -> dict:
    import ray
    import torch

    if not Path(file).exists():
        raise SystemExit(f"no such recording: {file}")
    opts = MonitorOptions(window_max_s=window_s, window_min_s=window_s / 2, merge_max_s=merge_max_s)
    merged = f", merge<={merge_max_s:g}s" if merge_max_s > 0 else ""
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    rows = []
    for n in streams:
        rows.append({"path": f"batched (B={batch_size}{merged})", **_trial(file, n, batch_size, opts, model, device,
                                                                           engine, duration_s)})
        if naive:  # one Whisper call per window per stream: no batching, no joining
            rows.append({"path": "naive (B=1)", **_trial(file, n, 1, replace(opts, merge_max_s=0), model, device,
                                                         engine, duration_s)})
    best = {p: max((r["streams"] for r in rows if r["path"] == p and r["ok"]), default=0)
            for p in {r["path"] for r in rows}}
    return {"file": file, "engine": engine, "device": device or ("cuda" if torch.cuda.is_available() else "cpu"),
            "cpus": os.cpu_count(), "window_s": window_s, "merge_max_s": merge_max_s, "rows": rows, "max_streams_ok": best}


def format_live_bench(res: dict) -> str:
    lines = [f"{res['file']} on {res['device']} ({res['cpus']} CPUs, engine {res['engine']}), windows <= {res['window_s']} s "
             f"(joined up to {res['merge_max_s']:g} s under load), "
             f"bound: p95 speech-to-finding < {DELAY_BOUND_S:.0f} s with no dropped windows",
             f"{'path':28s} {'streams':>7s} {'findings':>8s} {'clips':>5s} {'dropped':>7s} {'p50 s':>6s} {'p95 s':>6s} "
             f"{'max s':>6s}  ok"]
    for r in res["rows"]:
        lines.append(f"{r['path']:28s} {r['streams']:7d} {r['findings']:8d} {r.get('clips', 0):5d} {r['dropped_windows']:7d} "
                     f"{r['p50_s']:6.1f} {r['p95_s']:6.1f} {r['max_s']:6.1f}  {'yes' if r['ok'] else 'no'}")
    for path, n in sorted(res["max_streams_ok"].items()):
        lines.append(f"largest N within the bound, {path}: {n}")
    return "\n".join(lines)
