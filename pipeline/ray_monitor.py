"""Live monitoring on Ray: one ingest actor per stream, a pool of ASR actors, one driver loop.

Ray is imported only in this module. The actors are thin shells over the plain classes in
`pipeline.live` and `asr.transcriber`. `ray.init()` starts a local Ray by default; with
RAY_ADDRESS set it joins that cluster, with no code change.

Windows from all streams are batched into one Whisper call per ASR actor. The driver only takes
windows from the ingest actors when an ASR actor can take them, so when compute falls behind the
windows wait in each stream's small buffer, where the oldest are dropped and counted. An actor
that dies is restarted by Ray; a batch it was working on is sent again, and a restarted ingest
actor resumes its stream's clock from the state it saved.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from asr.transcriber import AsrOptions, Transcriber
from asr.whisper_model import load_whisper
from claims import RuleDetector
from ingest.recorder import ClipError
from pipeline.live import IngestSnapshot, LiveProcessor, MonitorOptions, StreamIngest, merge_backlog
from pipeline.metrics import LiveMetrics

__all__ = ["IngestActor", "AsrActor", "VisualActor", "RayMonitor", "StreamSpec"]

log = logging.getLogger(__name__)
TICK_S = 0.2  # driver loop period when idle
MAX_WINDOW_RETRIES = 3  # a window that kills the ASR actor this often is dropped, with an error record
CALL_TIMEOUT_S = 30.0  # a remote call that takes longer than this is treated as a dead actor
RECOVERY_POLL_S = 1.0  # how often a restarting ASR actor is pinged
MAX_VISUAL_BACKLOG = 4  # windows queued at a stream's visual actor; beyond, frames are skipped and counted


@ray.remote(max_restarts=-1, max_task_retries=0, num_cpus=0)
class IngestActor:
    """StreamIngest in an actor. Decoding is light next to ASR, so it reserves no whole CPU."""

    def __init__(self, stream_id: str, url: str, workdir: str, opts: MonitorOptions):
        self.ingest = StreamIngest(stream_id, url, workdir, opts)

    def take(self, max_n: int):
        return self.ingest.take(max_n)

    def snapshot(self) -> IngestSnapshot:
        return self.ingest.snapshot()

    def covered_until(self) -> float:
        return self.ingest.covered_until()

    def cut_clip(self, t0: float, t1: float, out: str) -> str:
        return self.ingest.cut_clip(t0, t1, out)

    def stop(self) -> None:
        self.ingest.stop()


@ray.remote(max_restarts=-1, max_task_retries=0)
class AsrActor:
    def __init__(self, model: str, device: str | None, opts: AsrOptions, engine: str = "auto"):
        self.transcriber = Transcriber(load_whisper(model, device, engine=engine), opts)
        # One decode before the streams start: first calls pay for kernel and allocator set-up,
        # which would otherwise land on the first live window's delay.
        self.transcriber.whisper.decode([np.zeros(2 * 16000, np.float32)], opts.decode)
        if self.transcriber.vad is not None:
            self.transcriber.vad.spans(np.zeros(8 * 16000, np.float32))

    def transcribe(self, windows):
        return list(self.transcriber.transcribe(windows))

    def ping(self) -> str:
        return self.transcriber.model_id


@ray.remote(max_restarts=-1, max_task_retries=0, num_cpus=0)
class VisualActor:
    """One stream's visual check (faces and voices against the gallery, screen text, AI label).
    `make(stream_id)` builds the checker inside the actor, so its models load here."""

    def __init__(self, make: Callable, stream_id: str):
        self.checker = make(stream_id)

    def feed(self, window):
        return self.checker.feed(window)

    def finish(self):
        return self.checker.finish()


@dataclass(frozen=True)
class StreamSpec:
    stream_id: str
    url: str


@dataclass
class _Inflight:
    actor: object
    batch: list  # [(Window, ready_wall)]


@dataclass
class RayMonitor:
    streams: list[StreamSpec]
    workdir: Path
    opts: MonitorOptions = field(default_factory=MonitorOptions)
    model: str = "whisper-base"
    device: str | None = None
    engine: str = "auto"
    n_asr: int = 1
    asr_gpus: float = 0.0
    on_record: Callable[[dict], None] = lambda rec: None
    metrics: LiveMetrics = field(default_factory=LiveMetrics)
    # stream id -> checker with feed(window)/finish() (pipeline.impersonation.VisualChecker); None: no visual check
    visual: Callable[[str], object] | None = None
    # stream id -> claims detector for that stream's transcript (e.g. with its product listing);
    # streams not named get the bundled rules
    detectors: dict[str, object] = field(default_factory=dict)
    detector: object | None = None  # for the other streams (None: the bundled rules)

    def start(self) -> None:
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        self.workdir = Path(self.workdir)
        self.processor = LiveProcessor(self.detector or RuleDetector(), self.workdir / "clips", self.opts, detectors=self.detectors)
        # Packing chunks of different streams into one input is off live: on N identical copies of the
        # sample (bench live) Whisper wrote shared speech once and some findings were lost (7 of 9).
        asr_opts = AsrOptions(batch_size=self.opts.batch_size, pack=False)
        self.asr = [AsrActor.options(num_gpus=self.asr_gpus).remote(self.model, self.device, asr_opts, self.engine)
                    for _ in range(self.n_asr)]
        ray.get([a.ping.remote() for a in self.asr])  # models loaded before streams start
        self.ingest = {s.stream_id: IngestActor.remote(s.stream_id, s.url, str(self.workdir), self.opts)
                       for s in self.streams}
        self.snapshots: dict[str, IngestSnapshot] = {}
        self.inflight: dict[object, _Inflight] = {}
        self.todo: list = []
        self.asr_restarts = 0
        self.failures: dict[tuple[str, int], int] = {}
        self.recovering: dict[object, tuple[object, float]] = {}  # actor -> (ping ref, next ping time)
        self._reported_end: set[str] = set()
        self.visual_actors = ({s.stream_id: VisualActor.remote(self.visual, s.stream_id) for s in self.streams}
                              if self.visual is not None else {})
        self.visual_inflight: dict[object, str] = {}  # feed/finish call -> stream
        self.visual_skipped: dict[str, int] = {}
        self._visual_finished: set[str] = set()

    # -- streams joining and leaving while the monitor runs (e.g. from the service's stream list) --
    def add_stream(self, spec: StreamSpec, detector=None) -> None:
        """Start watching another stream (after start()); `detector`: its claims detector."""
        if spec.stream_id in self.ingest:
            raise ValueError(f"stream {spec.stream_id!r} is already watched")
        self.streams.append(spec)
        if detector is not None:
            self.processor.detectors[spec.stream_id] = detector
        self.ingest[spec.stream_id] = IngestActor.remote(spec.stream_id, spec.url, str(self.workdir), self.opts)
        if self.visual is not None:
            self.visual_actors[spec.stream_id] = VisualActor.remote(self.visual, spec.stream_id)

    def end_stream(self, sid: str) -> None:
        """Stop pulling a stream; it is then reported ended ("stopped") and its work finishes."""
        actor = self.ingest.get(sid)
        if actor is not None:
            actor.stop.remote()

    # -- the loop ------------------------------------------------------------------------------
    def _idle_asr(self) -> list:
        busy = {f.actor for f in self.inflight.values()} | set(self.recovering)
        return [a for a in self.asr if a not in busy]

    def _check_recovering(self) -> None:
        for actor, (ref, retry_at) in list(self.recovering.items()):
            if not ray.wait([ref], timeout=0)[0]:
                continue
            try:
                ray.get(ref)
                del self.recovering[actor]
                log.warning("ASR actor is back")
            except RayActorError:
                if time.time() >= retry_at:
                    self.recovering[actor] = (actor.ping.remote(), time.time() + RECOVERY_POLL_S)

    def _submit(self, actor, batch) -> None:
        # the ASR actor needs only the audio; frames went to the stream's visual actor
        ref = actor.transcribe.remote([replace(w, frames=[]) if w.frames else w for w, _ in batch])
        self.inflight[ref] = _Inflight(actor, batch)

    def _requeue(self, job: _Inflight) -> None:
        """Put a failed batch's windows back at the front; a window that failed too often is dropped."""
        again = []
        for window, ready in job.batch:
            key = (window.stream_id, window.index)
            self.failures[key] = self.failures.get(key, 0) + 1
            if self.failures[key] > MAX_WINDOW_RETRIES:
                self.on_record({"type": "error", "source": window.stream_id,
                                "message": f"window {window.t0:.1f}-{window.t1:.1f} s dropped: ASR failed "
                                           f"{self.failures[key]} times on it"})
            else:
                again.append((window, ready))
        self.todo = again + self.todo

    def _pull(self) -> None:
        want = len(self._idle_asr()) * self.opts.batch_size - len(self.todo)
        if want > 0:
            per_stream = max(1, want // max(1, len(self.ingest)))
            if self.opts.merge_max_s > 0:  # take what can be joined: fewer, fuller inputs under load
                per_stream *= max(1, int(self.opts.merge_max_s // self.opts.window_max_s))
            refs = {sid: a.take.remote(per_stream) for sid, a in self.ingest.items()}
            for sid, ref in refs.items():
                try:
                    taken = ray.get(ref, timeout=CALL_TIMEOUT_S)
                    self.todo += taken
                    self._feed_visual(sid, [w for w, _ in taken])
                except (RayActorError, GetTimeoutError) as exc:
                    log.warning("stream %s: ingest actor unavailable (%s); Ray restarts it", sid,
                                type(exc).__name__)
            self.todo.sort(key=lambda item: item[1])  # oldest first, whatever the stream
            self.todo = merge_backlog(self.todo, self.opts.merge_max_s)
        for actor in self._idle_asr():
            if not self.todo:
                break
            batch, self.todo = self.todo[: self.opts.batch_size], self.todo[self.opts.batch_size:]
            self._submit(actor, batch)

    # -- the visual check: each window's frames (and audio) go to its stream's actor once ---------
    def _feed_visual(self, sid: str, windows: list) -> None:
        actor = self.visual_actors.get(sid)
        if actor is None:
            return
        for window in windows:
            if sum(1 for s in self.visual_inflight.values() if s == sid) >= MAX_VISUAL_BACKLOG:
                self.visual_skipped[sid] = self.visual_skipped.get(sid, 0) + 1
                if self.visual_skipped[sid] in (1, 10, 100, 1000):
                    self.on_record({"type": "error", "source": sid, "message": (
                        f"visual check behind: {self.visual_skipped[sid]} window(s) of frames skipped so far")})
                continue
            self.visual_inflight[actor.feed.remote(window)] = sid

    def _collect_visual(self, wait: bool = False) -> None:
        if not self.visual_inflight:
            return
        refs = list(self.visual_inflight)
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=None if wait else 0)
        for ref in done:
            sid = self.visual_inflight.pop(ref)
            try:
                findings = ray.get(ref)
            except (RayActorError, RayTaskError) as exc:  # a bad frame or a dead actor: say so, go on
                self.on_record({"type": "error", "source": sid, "message": f"visual check failed: {exc}"})
                continue
            snap = self.snapshots.get(sid)
            for rec in self.processor.process_visual(findings, snap.start_wall if snap else None):
                self.metrics.findings.labels(sid, rec["label"]).inc()
                self.on_record(rec)

    def _finish_visual(self, sids: list[str]) -> None:
        """Close the visual check of ended streams: the last face tracks, screen text, AI label."""
        for sid in sids:
            if sid in self.visual_actors and sid not in self._visual_finished:
                self._visual_finished.add(sid)
                self.visual_inflight[self.visual_actors[sid].finish.remote()] = sid

    def _stream_done(self, sid: str) -> bool:
        snap = self.snapshots.get(sid)
        return bool(snap and snap.ended and not snap.pending and not any(w.stream_id == sid for w, _ in self.todo)
                    and not any(w.stream_id == sid for job in self.inflight.values() for w, _ in job.batch))

    def _collect(self, timeout: float) -> None:
        self._collect_visual()
        if not self.inflight:
            time.sleep(timeout)
            return
        done, _ = ray.wait(list(self.inflight), num_returns=1, timeout=timeout)
        for ref in done:
            job = self.inflight.pop(ref)
            try:
                results = ray.get(ref)
            except RayActorError:
                self.asr_restarts += 1
                self.metrics.asr_restarts.inc()
                log.warning("ASR actor died; Ray restarts it and its windows go back to the queue")
                self._requeue(job)
                # No work goes to it until it answers again: a restarting actor fails calls at once,
                # and sending the same windows round that loop would use up their retries.
                self.recovering[job.actor] = (job.actor.ping.remote(), time.time() + RECOVERY_POLL_S)
                continue
            except RayTaskError as exc:  # a bug or a bad window: report it, keep monitoring
                for w, _ in job.batch:
                    self.on_record({"type": "error", "source": w.stream_id, "message": f"ASR failed: {exc}"})
                continue
            for (window, ready), wt in zip(job.batch, results):
                snap = self.snapshots.get(window.stream_id)
                try:
                    records = self.processor.process(wt, ready, snap.start_wall if snap else None)
                except Exception as exc:  # a bug on one window must not stop the monitoring of all
                    log.exception("processing window %s of %s failed", window.index, window.stream_id)
                    self.on_record({"type": "error", "source": window.stream_id, "message": (
                        f"window {window.t0:.1f}-{window.t1:.1f} s not processed: {type(exc).__name__}: {exc}")})
                    continue
                for rec in records:
                    if rec["type"] == "finding":
                        self.metrics.findings.labels(window.stream_id, rec["label"]).inc()
                        if rec.get("delay_s") is not None:
                            self.metrics.delay.labels(window.stream_id).observe(rec["delay_s"])
                    self.on_record(rec)
                self.metrics.queue_wait.labels(window.stream_id).observe(self.processor.queue_waits[window.stream_id][-1])

    def _status(self, final: bool = False) -> None:
        """Snapshots, metrics, ended streams, and the clips the recordings now cover (`final`: all
        pending clips, cut from what is recorded, so a timed stop loses no finding's evidence)."""
        refs = {sid: a.snapshot.remote() for sid, a in self.ingest.items()}
        for sid, ref in refs.items():
            try:
                snap = ray.get(ref, timeout=CALL_TIMEOUT_S)
            except (RayActorError, GetTimeoutError):
                continue
            self.snapshots[sid] = snap
            self.metrics.update_stream(snap)
            if snap.ended and sid not in self._reported_end:
                self._reported_end.add(sid)
                self.on_record({"type": "stream_ended", "source": sid, "reason": snap.ended_reason,
                                "stream_t": snap.stream_t, "gaps": snap.gaps})
        covered = {}
        for sid, a in self.ingest.items():
            try:
                covered[sid] = ray.get(a.covered_until.remote(), timeout=CALL_TIMEOUT_S)
            except (RayActorError, GetTimeoutError):
                pass
        for clip in self.processor.ready_clips(covered, set(self.ingest) if final else self._reported_end):
            actor = self.ingest[clip.finding.source]
            try:
                path = ray.get(actor.cut_clip.remote(clip.t0, clip.t1, str(clip.out)), timeout=120)
                self.on_record({"type": "clip", "source": clip.finding.source, "label": clip.finding.label,
                                "t0": clip.t0, "t1": clip.t1, "path": path})
            except (ClipError, RayTaskError, RayActorError, GetTimeoutError) as exc:
                self.on_record({"type": "error", "source": clip.finding.source, "message": f"clip not cut: {exc}"})

    def run(self, duration_s: float | None = None, on_status: Callable[[RayMonitor], None] | None = None,
            status_every_s: float = 1.0, until_stopped: bool = False) -> None:
        """Monitor until every stream has ended (and its work is done) or `duration_s` has passed;
        with `until_stopped`, only `duration_s` (or Ctrl-C) ends the run: streams may still join."""
        t_end = time.time() + duration_s if duration_s else None
        next_status = 0.0
        while True:
            now = time.time()
            if now >= next_status:
                self._status()
                if on_status:
                    on_status(self)
                next_status = now + status_every_s
            self._finish_visual([sid for sid in self.visual_actors if self._stream_done(sid)])
            all_ended = (not until_stopped and self.snapshots and len(self.snapshots) == len(self.ingest)
                         and all(s.ended for s in self.snapshots.values()))
            if (t_end and now >= t_end) or (all_ended and not self.inflight and not self.todo and not self.recovering
                                             and not any(s.pending for s in self.snapshots.values())
                                             and not self.visual_inflight
                                             and self._visual_finished >= set(self.visual_actors)):
                break
            self._check_recovering()
            self._pull()
            self._collect(TICK_S)
        # streams still running at the end of a timed run: their visual findings so far are kept too
        self._finish_visual(list(self.visual_actors))
        self._collect_visual(wait=True)
        self._status(final=True)

    def stop(self) -> None:
        for a in self.ingest.values():
            try:
                ray.get(a.stop.remote(), timeout=15)
            except (RayActorError, GetTimeoutError):
                pass
            ray.kill(a, no_restart=True)
        for a in [*self.asr, *self.visual_actors.values()]:
            ray.kill(a, no_restart=True)

    def delay_summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for sid, delays in self.processor.delays.items():
            d = sorted(delays)
            out[sid] = {"n": len(d), "p50": statistics.median(d), "p95": d[min(len(d) - 1, int(0.95 * len(d)))],
                        "max": d[-1]}
        return out
