"""Live monitoring, the plain-Python parts: per-stream ingest workers and the stream of results.

`StreamIngest` pulls one stream (LiveSource), records it (StreamRecorder), cuts windows and
keeps at most `max_pending` of them: when compute falls behind, the oldest windows are dropped
and counted, so a live stream never waits on an unbounded queue. `LiveProcessor` turns
transcribed windows into report records and findings, schedules evidence clips once the
recording covers them, and keeps the latency figures. The Ray shell (`pipeline.ray_monitor`)
runs these in actors; tests can run them in threads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.transcriber import WindowTranscript
from asr.types import Segment
from claims import ClaimDetector
from ingest.live import LiveOptions, LiveSource
from ingest.recorder import RecorderOptions, StreamRecorder, new_run_id
from ingest.recovery import recorded_items
from ingest.windows import Window, WindowOptions, cut_windows
from pipeline.clips import ClipJournal, ClipRequest
from pipeline.findings import Finding, find_claims, finding_key
from pipeline.fusion import FusionOptions, fuse

__all__ = ["MonitorOptions", "StreamIngest", "IngestSnapshot", "LiveProcessor", "merge_backlog", "read_state"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorOptions:
    window_max_s: float = 8.0  # live windows are short: the delay to a finding is at least one window
    window_min_s: float = 4.0
    max_pending: int = 4  # windows kept per stream while ASR is busy; older ones are dropped
    batch_size: int = 8  # windows from all streams per Whisper call
    # When ASR falls behind, a stream's waiting windows are joined (up to this many seconds) into
    # one input: Whisper pays a 30-s encoder pass per input however short, so under load the
    # effective window grows and throughput with it, at the cost of delay. 0 turns it off.
    merge_max_s: float = 28.0
    clip_before_s: float = 5.0
    clip_after_s: float = 5.0
    recorder: RecorderOptions = field(default_factory=RecorderOptions)
    live: LiveOptions = field(default_factory=LiveOptions)

    def window_options(self) -> WindowOptions:
        return WindowOptions(max_s=self.window_max_s, min_s=self.window_min_s, frame_fps=self.live.frame_fps,
                             frame_height=self.live.frame_height)


def merge_backlog(pending: list[tuple[Window, float]], max_s: float) -> list[tuple[Window, float]]:
    """(window, ready wall time) pairs with each stream's back-to-back windows joined while the
    joined window stays within `max_s`. A window only waits behind another of its stream when ASR
    is behind, so this does nothing at light load. The joined window keeps the first one's index
    and the earliest ready time (its delay is counted from the oldest audio in it)."""
    if max_s <= 0:
        return list(pending)
    out: list[tuple[Window, float]] = []
    last: dict[str, int] = {}  # stream -> position in out of its latest window
    for window, ready in pending:
        k = last.get(window.stream_id)
        if k is not None:
            prev, prev_ready = out[k]
            if abs(prev.t1 - window.t0) < 0.05 and prev.duration + window.duration <= max_s:
                joined = Window(prev.stream_id, prev.index, prev.t0, np.concatenate([prev.audio, window.audio]),
                                prev.frames + window.frames, prev.recovered and window.recovered)
                out[k] = (joined, min(prev_ready, ready))
                continue
        last[window.stream_id] = len(out)
        out.append((window, ready))
    return out


@dataclass
class IngestSnapshot:
    stream_id: str
    url: str
    connected: bool
    ended: bool
    ended_reason: str | None
    last_error: str | None
    stream_t: float
    start_wall: float | None
    ingest_lag_s: float  # wall clock minus stream time: how far behind real time ingest is
    pending: int
    windows: int
    dropped: int
    reconnects: int
    gaps: list[tuple[float, float, str]]
    delivered_any: bool = False  # never: a dead input (a wrong URL, nothing listening)
    failures: int = 0  # failed connection attempts in a row
    give_up_in_s: float | None = None  # while failing: seconds until the stream is ended

    @property
    def gap_seconds(self) -> float:
        return sum(t1 - t0 for t0, t1, _ in self.gaps)


def read_state(path: Path) -> dict | None:
    """A stream's saved clock (`state.json`: start_wall, stream_t, hls_next_seq), or None when there
    is none or it cannot be read (then a new clock starts, with a warning)."""
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
        return {**state, "start_wall": float(state["start_wall"]), "stream_t": float(state["stream_t"])}
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable %s, starting a new clock", path)
        return None


class StreamIngest:
    """One live stream: a reader thread producing windows into a small bounded buffer."""

    def __init__(self, stream_id: str, url: str, workdir: str | Path, opts: MonitorOptions = MonitorOptions()):
        self.stream_id = stream_id
        self.url = url
        self.opts = opts
        self.dir = Path(workdir) / stream_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_file = self.dir / "state.json"
        resume, hls_seq = None, None
        state = read_state(self.state_file)  # a restarted worker continues the stream's clock (and HLS sequence)
        if state is not None:
            resume, hls_seq = (state["start_wall"], state["stream_t"]), state.get("hls_next_seq")
        self.recorder = StreamRecorder(self.dir / "recording", opts.recorder)
        if resume is not None and self.recorder.segments:
            # the hole left by a crash starts where the recording ends, past the last window cut
            resume = (resume[0], max(resume[1], max(s.t1 for s in self.recorder.segments)))
        self.source = LiveSource(url, opts.live, recorder=self.recorder, resume=resume, hls_next_seq=hls_seq)
        self.buffer: deque[tuple[Window, float]] = deque()  # (window, wall time it was ready)
        self.recovered: deque[tuple[Window, float]] = deque()  # read back from the recording: never dropped
        self.lock = threading.Lock()
        self.windows = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, name=f"ingest-{stream_id}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for window in cut_windows(self.source.items(), self.stream_id, self.opts.window_options()):
                with self.lock:
                    self.windows += 1
                    self.buffer.append((window, time.time()))
                    while len(self.buffer) > self.opts.max_pending:
                        self.buffer.popleft()
                        self.dropped += 1
                self._save_state()
        except Exception as exc:  # noqa: BLE001 - the reader must report, not vanish
            log.exception("stream %s: reader failed", self.stream_id)
            self.source.status.ended, self.source.status.ended_reason = True, f"reader failed: {exc}"

    def _save_state(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        state = {"start_wall": self.source.start_wall, "stream_t": self.source.status.stream_t}
        if self.source.hls is not None:
            state["hls_next_seq"] = self.source.hls.next_seq
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file)

    def recover(self, spans: list[tuple[float, float]]) -> int:
        """Windows for `spans` of stream time read back from the recording (audio a killed monitor
        had read but not reported, see pipeline.ledger); they are taken before live windows."""
        items = recorded_items(list(self.recorder.segments), spans, self.opts.live.frame_fps,
                               self.opts.live.frame_height)
        windows = list(cut_windows(items, self.stream_id, self.opts.window_options()))
        now = time.time()
        for k, window in enumerate(windows):
            window.index, window.recovered = -(k + 1), True  # apart from the live windows' numbers
        with self.lock:
            self.recovered.extend((w, now) for w in windows)
        return len(windows)

    def take(self, max_n: int = 8) -> list[tuple[Window, float]]:
        with self.lock:
            out = [self.recovered.popleft() for _ in range(min(max_n, len(self.recovered)))]
            out += [self.buffer.popleft() for _ in range(min(max_n - len(out), len(self.buffer)))]
        return out

    def snapshot(self) -> IngestSnapshot:
        st = self.source.status
        with self.lock:
            pending = len(self.buffer) + len(self.recovered)
        now = time.time()
        lag = now - (self.source.start_wall or now) - st.stream_t if st.connected else 0.0
        give_up_in = max(0.0, st.give_up_at - now) if st.give_up_at is not None and not st.ended else None
        return IngestSnapshot(self.stream_id, self.url, st.connected, st.ended and not self.thread.is_alive(),
                              st.ended_reason, st.last_error, round(st.stream_t, 3), self.source.start_wall,
                              round(max(lag, 0.0), 3), pending, self.windows, self.dropped, st.reconnects,
                              [(g.t0, g.t1, g.reason) for g in st.gaps], st.delivered_any,
                              st.failures, round(give_up_in, 1) if give_up_in is not None else None)

    def cut_clip(self, t0: float, t1: float, out: str | Path) -> str:
        return str(self.recorder.cut_clip(t0, t1, out))

    def covered_until(self) -> float:
        span = self.recorder.covered()
        return span[1] if span else 0.0

    def stop(self) -> None:
        self.source.stop.set()
        self.thread.join(timeout=10)


def _already(records, kind: str, key: str | None, t0: float, t1: float) -> bool:
    """Whether `records` hold a `kind` record (of finding `key`, pipeline.findings.finding_key)
    covering most of [t0, t1]."""
    for r in records:
        if r.get("type") != kind or (key is not None and finding_key(r.get("label"), r.get("decided_by")) != key):
            continue
        overlap = min(t1, r["t1"]) - max(t0, r["t0"])
        if overlap > 0.5 * min(t1 - t0, r["t1"] - r["t0"]):
            return True
    return False


class LiveProcessor:
    """Transcribed windows -> report records, findings with delays, and clip requests."""

    def __init__(self, detector: ClaimDetector, clips_dir: str | Path, opts: MonitorOptions = MonitorOptions(),
                 fusion: FusionOptions = FusionOptions(), transcript_keep_s: float = 120.0,
                 detectors: dict[str, ClaimDetector] | None = None, run: str | None = None,
                 reported: dict[str, list[dict]] | None = None):
        """`reported`: stream -> transcript and finding records an earlier run already wrote (from
        its output): what is read back from the recording after a crash is not reported twice."""
        self.detector = detector
        self.reported = reported or {}
        self.detectors = detectors or {}  # per stream (e.g. with the stream's product listing)
        self.fusion = fusion
        self.transcript_keep_s = transcript_keep_s  # recent transcript kept per stream, for fusion's cues
        self.recent: dict[str, deque[Segment]] = {}
        self.clips_dir = Path(clips_dir)
        self.opts = opts
        self.delays: dict[str, list[float]] = {}  # speech-to-finding seconds, per stream
        self.visual_delays: dict[str, list[float]] = {}  # on-screen/voice-print findings, per stream
        self.queue_waits: dict[str, list[float]] = {}
        self.findings: dict[str, int] = {}
        self.run = run or new_run_id()  # in clip names: a restarted monitor never overwrites a clip
        self.journal = ClipJournal(self.clips_dir / "journal.jsonl")
        self.pending_clips: list[ClipRequest] = self.journal.owed()  # owed by an earlier run that crashed

    def process(self, wt: WindowTranscript, ready_wall: float, start_wall: float | None) -> list[dict]:
        """Records for one transcribed window. `start_wall`: the wall clock at stream time 0."""
        now = time.time()
        sid = wt.window.stream_id
        self.queue_waits.setdefault(sid, []).append(now - ready_wall)
        # Delay from when the words could first be heard here: their stream time on the wall clock,
        # or, where the source delivered faster than real time (an HLS backlog read in a burst, when
        # stream time runs ahead of the clock), the time the window's audio arrived.
        spoken_wall = (lambda t: min(ready_wall, start_wall + t)) if start_wall else None
        records: list[dict] = []
        recovered = wt.window.recovered
        segments = wt.segments
        if recovered:  # the ledger is written after the records: a kill in between left them written
            segments = [s for s in segments if not _already(self.reported.get(sid, ()), "transcript", None, s.t0, s.t1)]
        mark = {"recovered": True} if recovered else {}
        for s in segments:
            records.append({"type": "transcript", "source": sid, "t0": s.t0, "t1": s.t1, "text": s.text,
                            "lang": s.lang, "hallucination": s.hallucination,
                            "hallucination_reason": s.hallucination_reason, "model": s.model_id, **mark})
        recent = self.recent.get(sid)
        previous = list(recent)[-2:] if recent else None  # a claim may span the end of the last window
        self._remember(sid, wt.segments)
        for f in find_claims(sorted(wt.segments, key=lambda s: s.t0), self.detectors.get(sid, self.detector), sid,
                               previous=previous):
            if recovered and _already(self.reported.get(sid, ()), "finding", finding_key(f.label, f.decided_by),
                                      f.t0, f.t1):
                continue
            delay = now - spoken_wall(f.t1) if spoken_wall else None
            if delay is not None and not recovered:  # the live delay figures; a read-back waited out a crash
                self.delays.setdefault(sid, []).append(delay)
            records.append({**self._finding_record(f, delay), **mark})
        return records

    def _remember(self, sid: str, segments: list[Segment]) -> None:
        """Keep the stream's last `transcript_keep_s` seconds of transcript (bounded memory)."""
        recent = self.recent.setdefault(sid, deque())
        recent.extend(s for s in segments if not s.hallucination and s.text)
        if recent:
            newest = max(s.t1 for s in recent)
            while recent and recent[0].t1 < newest - self.transcript_keep_s:
                recent.popleft()

    def process_visual(self, findings: list[Finding], start_wall: float | None) -> list[dict]:
        """Records for findings of the visual check (faces, voices, screen text, AI label); their
        delay is counted apart from the speech-to-finding delay.

        The batch is fused first (`pipeline.fusion`), with the stream's recent transcript: face and
        voice findings of one gallery entry in this batch become one, "I am <name>" cues transcribed
        by now add weight. Face and voice findings arriving in different batches are not merged, and
        a cue transcribed after its appearance's finding was reported does not reach it."""
        now = time.time()
        records = []
        by_source: dict[str, list[Finding]] = {}
        for f in findings:
            by_source.setdefault(f.source, []).append(f)
        fused = [g for sid, fs in by_source.items() for g in fuse(fs, list(self.recent.get(sid, ())), self.fusion)]
        for f in fused:
            delay = now - (start_wall + f.t1) if start_wall else None
            if delay is not None:
                self.visual_delays.setdefault(f.source, []).append(delay)
            records.append(self._finding_record(f, delay))
        return records

    def _finding_record(self, f: Finding, delay: float | None) -> dict:
        """The finding's record, with a clip of the stream around it requested."""
        sid = f.source
        self.findings[sid] = self.findings.get(sid, 0) + 1
        out = self.clips_dir / sid / f"{self.run}_{self.findings[sid]:05d}_{f.label}_{f.t0:.1f}.mp4"
        clip = ClipRequest(sid, f.label, max(0.0, f.t0 - self.opts.clip_before_s), f.t1 + self.opts.clip_after_s,
                           str(out))
        self.journal.request(clip)  # owed from now on, whatever happens to this process
        self.pending_clips.append(clip)
        rec = {"type": "finding", "source": sid, **{k: v for k, v in f.__dict__.items() if k != "source"}}
        rec["delay_s"] = round(delay, 3) if delay is not None else None
        rec["clip"] = str(out)
        return rec

    def ready_clips(self, covered_until: dict[str, float], ended: set[str]) -> list[ClipRequest]:
        """Clip requests whose span the recording now covers (or whose stream has ended)."""
        ready = [c for c in self.pending_clips if covered_until.get(c.source, 0.0) >= c.t1 or c.source in ended]
        self.pending_clips = [c for c in self.pending_clips if c not in ready]
        return ready

    def clip_done(self, clip: ClipRequest, path: str | None, error: str | None = None) -> dict:
        """The record of a clip's outcome (also written to the journal): `clip`, or `clip_failed`
        with the reason, naming the file the finding pointed at."""
        self.journal.done(clip, path is not None, error)
        base = {"source": clip.source, "label": clip.label, "t0": clip.t0, "t1": clip.t1}
        if path is not None:
            return {"type": "clip", **base, "path": path}
        return {"type": "clip_failed", **base, "clip": clip.out, "message": f"clip not made: {error}"}
