"""Soak test of `liveguard monitor`: three looping live streams with faults, then a report.

    LIVEGUARD_CACHE=.cache/liveguard .venv/bin/python scripts/soak_live.py [--minutes 30] [--workdir W]

A 60-s room recording (espeak-ng, claims at known times) loops on loopback as live HLS, HTTP-FLV and
RTMP (FFmpeg reports progress, so when each claim was spoken is known); `liveguard monitor` watches
the three. Scaled to --minutes: the HTTP-FLV server dies for 20 s, the HLS writer stalls for 30 s
(then goes on at the next media sequence number), the RTMP server dies for 20 s, and the monitor is
kill -9ed and restarted on the same workdir, database and output. Report (also W/soak-report.json):
claims spoken while source and monitor were up (sure; maybe: near an edge) against findings,
duplicates (same label, t0 < 5 s apart, output and database), flags with neither a playable clip
nor a stated reason, p95 delay, dropped windows, gaps, whether each stream came back after each
fault, exit codes. Exit 0 when there are no duplicates and every flag has a clip or a reason.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from claims import RuleDetector  # noqa: E402
from ingest.decode import SAMPLE_RATE, probe  # noqa: E402
from liveguard.errors import MediaError  # noqa: E402
from tests.utils.media import assemble, make_recording, run  # noqa: E402
from tests.utils.servers import _Quiet, free_port  # noqa: E402

LIVEGUARD = str(Path(sys.executable).parent / "liveguard")
# espeak-ng's "best serum in the world" reaches Whisper as "best and the world", "most effective cream" as
# "most effective pre-matter": claims that survive the round trip
CLAIMS = ["This tea will cure your diabetes.", "It is the number one brand in the world.",
          "Only ten boxes left in stock today."]
SCRIPT = [2.0, "Hello everyone, welcome to the live room.", 2.0, "Today we have a new green tea from the mountains.",
          1.5, CLAIMS[0], 6.0, "Thank you for joining us today.", 2.0, "Please ask your questions in the chat.", 2.0,
          CLAIMS[1], 6.0, "This box holds twenty bags of tea.", 2.0, "Brew it for three minutes in hot water.", 2.0,
          CLAIMS[2], 4.0, "We will be back tomorrow at the same time."]
MARGIN_S = 10.0  # a claim this close to an outage, or to a monitor start or stop, may or may not be heard
DUP_S = 5.0
STREAMS = ("hls", "flv", "rtmp")


class Source:
    """One FFmpeg server at a time, restartable; per process, the wall time of its out_time 0 and of
    its last progress report (what it played, and when)."""

    def __init__(self, make_cmd):
        self.make_cmd, self.procs, self.want_up, self.unplanned = make_cmd, [], False, []

    def start(self) -> None:
        info = {"proc": subprocess.Popen(self.make_cmd(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         text=True), "wall0": None, "last": None}
        self.procs.append(info)
        self.want_up = True
        threading.Thread(target=self._progress, args=(info,), daemon=True).start()

    @staticmethod
    def _progress(info: dict) -> None:
        for line in info["proc"].stdout:
            m = re.match(r"out_time_us=(\d+)", line)
            if m and int(m.group(1)) > 0:
                info["last"] = time.time()
                w = info["last"] - int(m.group(1)) / 1e6
                info["wall0"] = w if info["wall0"] is None else min(info["wall0"], w)

    def kill(self) -> None:
        self.want_up = False
        for info in self.procs:
            if info["proc"].poll() is None:
                info["proc"].kill()
                info["proc"].wait(10)

    def supervise(self) -> None:
        """A listen-mode server exits when its client leaves: start it again, as a real server would."""
        if self.want_up and self.procs and self.procs[-1]["proc"].poll() is not None:
            self.unplanned.append(time.time())
            self.start()

    def played(self) -> list[tuple[float, float]]:
        return [(p["wall0"], p["last"]) for p in self.procs if p["wall0"] is not None and p["last"] is not None]


def ffmpeg_cmd(src: Path, out: list[str]) -> list[str]:  # as tests/utils/servers.py, with progress on stdout
    return ["ffmpeg", "-nostdin", "-loglevel", "error", "-progress", "pipe:1", "-nostats", "-re", "-stream_loop",
            "-1", "-i", str(src), "-c", "copy", *out]


def hls_next_seq(playlist: Path) -> int:
    text = playlist.read_text() if playlist.exists() else ""
    m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    return (int(m.group(1)) if m else 0) + text.count("#EXTINF")


def build_room(tmp: Path) -> tuple[Path, float, list[tuple[str, float, float]]]:
    """The FLV (60 s), its loop period, and (label, t0, t1) of each claim in it."""
    audio, placed = assemble(SCRIPT, tmp)
    audio = np.concatenate([audio, np.zeros(max(0, 60 * SAMPLE_RATE - len(audio)), np.float32)])
    mp4, flv = make_recording(tmp / "room.mp4", audio), tmp / "room.flv"
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(mp4), "-c:v", "libx264", "-g", "10",
         "-c:a", "aac", "-f", "flv", str(flv)])
    period = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                   str(flv)], capture_output=True, text=True, check=True).stdout)
    det = RuleDetector()
    return flv, period, [(label, p.t0, p.t1) for p in placed if p.text in CLAIMS
                         for label in sorted({h.label for h in det.detect(p.text, "en")})]


def read_records(path: Path) -> tuple[list[tuple[int, dict]], int]:
    """(byte offset of the line's end, record) for each line, and how many lines were torn."""
    recs, torn, end = [], 0, 0
    for line in (path.read_bytes().splitlines(keepends=True) if path.exists() else []):
        end += len(line)
        try:
            recs.append((end, json.loads(line)))
        except ValueError:
            torn += 1
    return recs, torn


def duplicates(pairs: list[tuple[str, float]]) -> int:
    """(label, t0) pairs: how many lie < DUP_S after the previous one of the same label."""
    n, last = 0, {}
    for label, t0 in sorted(pairs, key=lambda p: p[1]):
        n += label in last and t0 - last[label] < DUP_S
        last[label] = t0
    return n


def last_table(log: Path) -> dict[str, dict]:
    """The live table the monitor prints at exit: stream id -> column -> value."""
    lines = log.read_text(errors="replace").splitlines()
    heads = [i for i, ln in enumerate(lines) if ln.startswith("stream ") and "dropped" in ln]
    if not heads:
        return {}
    rows = [ln.split() for ln in lines[heads[-1] + 1:]]
    return {r[0]: dict(zip(lines[heads[-1]].split(), r)) for r in rows if r and r[0] in STREAMS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="soak length (the monitor's total --duration)")
    ap.add_argument("--workdir", help="where everything goes (default: a new temporary folder)")
    ap.add_argument("--give-up", type=float, default=60.0)
    args = ap.parse_args()
    W = Path(args.workdir or tempfile.mkdtemp(prefix="lg-soak-")).resolve()
    hls_dir = W / "src" / "hls"  # not W/hls: that is the monitor's folder for stream "hls"
    hls_dir.mkdir(parents=True, exist_ok=True)
    flv, period, claims = build_room(W / "src")
    print(f"workdir {W}; room {period:.1f} s; claims {[(lb, round(t, 1)) for lb, t, _ in claims]}", flush=True)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(hls_dir)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    urls = {"hls": f"http://127.0.0.1:{httpd.server_address[1]}/live.m3u8",
            "flv": f"http://127.0.0.1:{free_port()}/live/room.flv", "rtmp": f"rtmp://127.0.0.1:{free_port()}/live/room"}
    src = {"hls": Source(lambda: ffmpeg_cmd(flv, [
               "-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments+omit_endlist",
               "-start_number", str(hls_next_seq(hls_dir / "live.m3u8")), str(hls_dir / "live.m3u8")])),
           "flv": Source(lambda: ffmpeg_cmd(flv, ["-f", "flv", "-listen", "1", urls["flv"]])),
           "rtmp": Source(lambda: ffmpeg_cmd(flv, ["-f", "flv", "-listen", "1", urls["rtmp"]]))}
    for s in src.values():
        s.start()

    out, runs, sizes, faults = W / "out.jsonl", [], [], []  # sizes: (wall time, size of out.jsonl)
    base = [LIVEGUARD, "monitor", *urls.values(), "--stream-id", *urls, "--workdir", str(W), "--db",
            f"sqlite:///{W}/lg.sqlite", "--out", str(out), "--claims", "rules", "-q", "--give-up", str(args.give_up)]

    def launch(remaining: float) -> None:
        log = W / f"monitor-{len(runs) + 1}.log"
        with open(log, "w") as err:
            proc = subprocess.Popen([*base, "--duration", f"{remaining:.0f}"], stdout=subprocess.DEVNULL, stderr=err)
        # up: when it first connected (a listen-mode server started playing); end: when it was killed
        runs.append({"proc": proc, "launched": time.time(), "duration": remaining, "up": None, "end": None,
                     "rc": None, "log": log})

    def tick() -> None:
        for s in src.values():
            s.supervise()
        if runs[-1]["up"] is None:
            seen = [p["wall0"] for s in (src["flv"], src["rtmp"]) for p in s.procs if p["wall0"]]
            runs[-1]["up"] = min((w for w in seen if w >= runs[-1]["launched"]), default=None)
        sizes.append((time.time(), out.stat().st_size if out.exists() else 0))
        time.sleep(0.5)

    D, T0 = args.minutes * 60, time.time()
    try:
        launch(D)
        while runs[0]["up"] is None and runs[0]["proc"].poll() is None and time.time() < T0 + max(300, D / 2):
            tick()
        if runs[0]["up"] is None:
            print(f"error: the monitor never connected (rc {runs[0]['proc'].poll()}); see {runs[0]['log']}")
            return 1
        S, R = runs[0]["up"], T0 + D - runs[0]["up"]
        print(f"monitor up after {S - T0:.0f} s; faults over the remaining {R:.0f} s", flush=True)
        short = min(1.0, R / 200)  # outages shrink only when the run is too short to hold them
        for frac, what, down in [(0.15, "flv", 20 * short), (0.35, "hls", 30 * short), (0.55, "rtmp", 20 * short),
                                 (0.75, "monitor", 3.0)]:
            while time.time() < S + frac * R and runs[-1]["proc"].poll() is None:
                tick()
            if runs[-1]["proc"].poll() is not None:
                break
            t_down = time.time()
            if what == "monitor":
                runs[-1]["proc"].send_signal(signal.SIGKILL)
                runs[-1]["rc"], runs[-1]["end"] = runs[-1]["proc"].wait(), t_down
            else:
                src[what].kill()
            print(f"[{t_down - T0:5.0f} s] {what} killed for {down:.0f} s", flush=True)
            while time.time() < t_down + down:
                tick()
            if what == "monitor":
                launch(max(30.0, T0 + D - time.time()))
            else:
                src[what].start()
            faults.append({"fault": what, "down_at": t_down, "up_at": time.time()})
        last = runs[-1]
        while last["proc"].poll() is None and time.time() < last["launched"] + last["duration"] + 150:
            tick()  # 150 s: the model loading, and the monitor's own drain
        if last["proc"].poll() is None:
            print("monitor still running: SIGINT, up to 120 s to drain", flush=True)
            last["proc"].send_signal(signal.SIGINT)
            try:
                last["proc"].wait(120)
            except subprocess.TimeoutExpired:
                last["proc"].kill()
        last["rc"] = last["proc"].wait()
        tick()
    finally:
        for r in runs:
            if r["proc"].poll() is None:
                r["proc"].kill()
                r["proc"].wait()
        for s in src.values():
            s.kill()
        httpd.shutdown()
    return report(W, urls, src, runs, faults, sizes, claims, period, T0)


def expected(played, mon_up, claims, period) -> dict[str, list[int]]:
    """label -> [sure, maybe]: claims spoken while source and monitor were up (maybe: near an edge)."""
    up = [(max(a, c), min(b, d)) for a, b in played for c, d in mon_up if max(a, c) < min(b, d)]
    out = {label: [0, 0] for label, _, _ in claims}
    for w0, w1 in played:
        for k in range(int((w1 - w0) // period) + 1):
            for label, t0, t1 in claims:
                a, b = w0 + k * period + t0, w0 + k * period + t1
                if a >= w1:  # a claim cut off by the source's end may still be heard: a maybe
                    continue
                if any(lo + MARGIN_S <= a and b <= hi - MARGIN_S for lo, hi in up):
                    out[label][0] += 1
                elif any(a < hi + MARGIN_S and b > lo - MARGIN_S for lo, hi in up):
                    out[label][1] += 1
    return out


def check_flags(con, rids: list[int]) -> tuple[int, list[dict]]:
    """How many flags, and those with neither a clip that opens with audio nor a stated reason."""
    n, bad = 0, []
    for fid, clip, evidence in con.execute(
            f"select id, clip_path, evidence from flags where recording_id in ({','.join('?' * len(rids))})", rids):
        n += 1
        try:
            ok = "[no clip" in (evidence or "") or bool(clip) and Path(clip).exists() and probe(clip).has_audio
        except MediaError:
            ok = False
        if not ok:
            bad.append({"flag": fid, "clip": clip})
    return n, bad


def table(rows: list[tuple]) -> str:
    rows = [tuple("-" if c is None else str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def report(W, urls, src, runs, faults, sizes, claims, period, T0) -> int:
    lines, torn = read_records(W / "out.jsonl")
    records = [r for _, r in lines]
    mon_up = [(r["up"], r["end"] or r["up"] + r["duration"]) for r in runs if r["up"] is not None]
    con = sqlite3.connect(W / "lg.sqlite") if (W / "lg.sqlite").exists() else None
    url_of = dict(con.execute("select id, path from recordings")) if con is not None else {}
    final_table, streams = last_table(runs[-1]["log"]), {}
    for sid in STREAMS:
        mine = [r for r in records if r.get("source") == sid]
        finds = [r for r in mine if r["type"] == "finding"]
        exp, labels = expected(src[sid].played(), mon_up, claims, period), {}
        for label in sorted(set(exp) | {f["label"] for f in finds}):
            n, (sure, maybe) = sum(f["label"] == label for f in finds), exp.get(label, [0, 0])
            labels[label] = {"sure": sure, "maybe": maybe, "found": n, "missed": max(0, sure - n),
                             "extra": max(0, n - sure - maybe)}
        rids = [rid for rid, u in url_of.items() if u == urls[sid]]
        db_rows = con.execute(f"select label, t0_ms from findings where recording_id in ({','.join('?' * len(rids))})",
                              rids).fetchall() if con else []
        n_flags, bad = check_flags(con, rids) if con else (0, [])
        # live delay; findings read back from the recording after the kill -9 waited out the restart
        delays = sorted(f["delay_s"] for f in finds if f.get("delay_s") is not None and not f.get("recovered"))
        gaps = [r for r in mine if r["type"] == "gap"]
        streams[sid] = {
            "labels": labels, "finds": len(finds), "dups": duplicates([(f["label"], f["t0"]) for f in finds]),
            "db_finds": len(db_rows), "db_dups": duplicates([(lb, t / 1000) for lb, t in db_rows]),
            "flags": n_flags, "bad_flags": bad,  # neither a playable clip nor "[no clip: why]"
            "p95_delay": delays[min(len(delays) - 1, int(0.95 * len(delays)))] if delays else None,
            "recovered": sum(bool(f.get("recovered")) for f in finds),
            "read_back": [r["spans"] for r in mine if r["type"] == "recovered"],
            "dropped": final_table.get(sid, {}).get("dropped"),  # the last run's (a killed run prints none)
            "gaps": len(gaps), "gap_s": round(sum(g["seconds"] for g in gaps), 1),
            "clips": sum(r["type"] == "clip" for r in mine), "clip_fail": sum(r["type"] == "clip_failed" for r in mine),
            "errors": sum(r["type"] == "error" for r in mine),
            "srv_restarts_at_s": [round(t - T0) for t in src[sid].unplanned],  # its client (the monitor) left
            "ended": "; ".join(r["reason"] for r in mine if r["type"] == "stream_ended") or None}
    for f in faults:  # came back: a transcript written after the restart (its time: when out.jsonl reached it)
        size_at_up = max((n for t, n in sizes if t <= f["up_at"]), default=0)
        back = {}
        for sid in (STREAMS if f["fault"] == "monitor" else (f["fault"],)):
            end = next((e for e, r in lines if e > size_at_up and r["type"] == "transcript" and r["source"] == sid), None)
            back[sid] = None if end is None else round(next((t for t, n in sizes if n >= end), time.time()) - f["up_at"])
        down_at, up_at = f.pop("down_at"), f.pop("up_at")
        f.update(at_s=round(down_at - T0), down_s=round(up_at - down_at), first_transcript_after_s=back,
                 came_back=all(v is not None for v in back.values()))
    dups = sum(st["dups"] + st["db_dups"] for st in streams.values())
    bad = sum(len(st["bad_flags"]) for st in streams.values())
    result = {"workdir": str(W), "streams": streams, "faults": faults, "torn_lines": torn,
              "monitor_exit_codes": [r["rc"] for r in runs], "duplicates": dups, "flags_without_clip_or_reason": bad,
              "other_errors": [r["message"] for r in records if r["type"] == "error" and r.get("source") not in STREAMS]}
    (W / "soak-report.json").write_text(json.dumps(result, indent=2))
    print("\n" + table([("stream", "label", "sure", "+maybe", "found", "missed", "extra")] + [
        (sid, lb, *c.values()) for sid, st in streams.items() for lb, c in st["labels"].items()]))
    cols = [k for k in streams["hls"] if k != "labels"]
    print("\n" + table([("stream", *cols)] + [(sid, *(len(st[k]) if k == "bad_flags" else st[k] for k in cols))
                                             for sid, st in streams.items()]))
    if faults:
        print("\n" + table([tuple(faults[0])] + [tuple(f.values()) for f in faults]))
    print(f"\nmonitor exit codes: {result['monitor_exit_codes']}; torn lines: {torn}; duplicates: {dups}; "
          f"flags without clip or reason: {bad}; report: {W / 'soak-report.json'}")
    return 0 if dups == 0 and bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
