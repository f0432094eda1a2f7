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
import os
import socket
import statistics
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _ray_address(environ=os.environ) -> tuple[str, int] | None:
    """(host, port) of the cluster RAY_ADDRESS names; None for no address, "auto", "local" or ray://."""
    addr = environ.get("RAY_ADDRESS", "").strip()
    if not addr or addr in ("auto", "local") or "://" in addr:
        return None
    host, _, port = addr.rpartition(":")
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        return None


def _local_ray_on_loopback(environ=os.environ) -> None:
    """Ray on this machine stays on 127.0.0.1. Ray picks the node address once, at import, and
    rewrites 127.0.0.1 into the machine's network address unless clusters are "disabled"
    (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, its laptop setting). Both cases want loopback: whoever
    reaches a Ray can submit code to it (token authentication is the only guard), so a
    single-machine monitor has no reason to listen on the network; and a cluster started on loopback (RAY_ADDRESS=127.0.0.1:port)
    can only be reached there. A cluster on another host is joined as Ray does it."""
    target = _ray_address(environ)
    if not environ.get("RAY_ADDRESS") or (target and (target[0] == "localhost" or target[0] == "::1"
                                                      or target[0].startswith("127."))):
        environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def join_cluster_auth(environ=os.environ, home: Path | None = None) -> str | None:
    """Joining an existing cluster (RAY_ADDRESS set) that uses token authentication, which `ray
    start` turns on by default in this Ray: the client must say RAY_AUTH_MODE=token too, or its
    connection times out with no word on why. Set it when a token is at hand (RAY_AUTH_TOKEN,
    RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token) and the user has not chosen a mode, before Ray is
    imported: Ray reads the mode into its C++ config at import. Returns the mode set."""
    if not environ.get("RAY_ADDRESS") or environ.get("RAY_AUTH_MODE"):
        return None
    token_file = (home or Path.home()) / ".ray" / "auth_token"
    if environ.get("RAY_AUTH_TOKEN") or environ.get("RAY_AUTH_TOKEN_PATH") or token_file.exists():
        environ["RAY_AUTH_MODE"] = "token"
        log.info("joining the Ray cluster at %s with token authentication", environ["RAY_ADDRESS"])
        return "token"
    return None


# before `import ray`: Ray reads both settings when it is imported
_local_ray_on_loopback()
join_cluster_auth()

import ray  # noqa: E402
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError  # noqa: E402

from asr.transcriber import AsrOptions, Transcriber
from asr.whisper_model import load_whisper
from claims import RuleDetector
from ingest.recorder import ClipError, cut_clip, read_index
from liveguard.errors import ConfigError
from pipeline.ledger import TranscriptLedger, untranscribed
from pipeline.live import IngestSnapshot, LiveProcessor, MonitorOptions, StreamIngest, merge_backlog, read_state
from pipeline.metrics import LiveMetrics, stream_state

__all__ = ["IngestActor", "AsrActor", "VisualActor", "RayMonitor", "StreamSpec"]

TICK_S = 0.2  # driver loop period when idle
MAX_WINDOW_RETRIES = 3  # a window that kills the ASR actor this often is dropped, with an error record
CALL_TIMEOUT_S = 30.0  # a remote call that takes longer than this is treated as a dead actor
RECOVERY_POLL_S = 1.0  # how often a restarting ASR actor is pinged
MAX_VISUAL_BACKLOG = 4  # windows queued at a stream's visual actor; beyond, frames are skipped and counted
STOP_DRAIN_S = 90.0  # at a timed stop or Ctrl-C: at most this long to transcribe what is buffered and cut clips
ERROR_REPEAT_S = 15.0  # a failing stream's error record is repeated at most this often


# max_concurrency: a clip being cut (in its own thread) never holds up take() and snapshot()
@ray.remote(max_restarts=-1, max_task_retries=0, num_cpus=0, max_concurrency=4)
class IngestActor:
    """StreamIngest in an actor. Decoding is light next to ASR, so it reserves no whole CPU. Clips are
    cut here, next to the recording (on a cluster it lives on this actor's node)."""

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

    def recover(self, spans: list) -> int:
        return self.ingest.recover(spans)


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
    # stream id -> transcript/finding records an earlier run on this workdir wrote (its output's
    # tail): audio read back after a crash is not reported again (pipeline.ledger)
    reported: dict[str, list[dict]] = field(default_factory=dict)

    def start(self) -> None:
        if not ray.is_initialized():
            target = _ray_address()
            if target is not None:  # Ray itself retries an unreachable cluster without end
                try:
                    socket.create_connection(target, timeout=10).close()
                except OSError as exc:
                    raise ConfigError(f"cannot reach the Ray cluster at RAY_ADDRESS={os.environ['RAY_ADDRESS']}: "
                                      f"{exc}") from exc
            try:
                ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
            except ConnectionError as exc:
                raise ConfigError(
                    f"cannot join the Ray cluster at RAY_ADDRESS={os.environ.get('RAY_ADDRESS')}: {exc}. Clusters "
                    "started with `ray start` use token authentication: set RAY_AUTH_MODE=token and give the "
                    "head's token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token as on the head)") from exc
        self.workdir = Path(self.workdir)
        self.processor = LiveProcessor(self.detector or RuleDetector(), self.workdir / "clips", self.opts,
                                       detectors=self.detectors, reported=self.reported)
        self.clip_calls: dict[object, object] = {}  # cut_clip call (Ray ref or Future) -> ClipRequest
        self._local_clips = ThreadPoolExecutor(1, thread_name_prefix="clips")  # streams no longer watched
        self._errors: dict[str, tuple[str, float]] = {}  # stream -> (last error reported, when)
        self._gaps_seen: dict[str, int] = {}
        self.stopping_since: float | None = None
        # Packing chunks of different streams into one input is off live: on N identical copies of the
        # sample (bench live) Whisper wrote shared speech once and some findings were lost (7 of 9).
        asr_opts = AsrOptions(batch_size=self.opts.batch_size, pack=False)
        self.asr = [AsrActor.options(num_gpus=self.asr_gpus).remote(self.model, self.device, asr_opts, self.engine)
                    for _ in range(self.n_asr)]
        ray.get([a.ping.remote() for a in self.asr])  # models loaded before streams start
        self.ledgers: dict[str, TranscriptLedger] = {}
        self.ingest = {}
        for spec in self.streams:
            self._start_ingest(spec)
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
        self._start_ingest(spec)
        if self.visual is not None:
            self.visual_actors[spec.stream_id] = VisualActor.remote(self.visual, spec.stream_id)

    def _start_ingest(self, spec: StreamSpec) -> None:
        """The stream's ingest actor and its ledger. Audio an earlier run of this workdir read but
        never reported (it was killed) is read back from the recording and checked first. Only here,
        at the monitor's start: an ingest actor that Ray restarts mid-run lost only what it had not
        handed over, and the windows this driver holds are still reported."""
        sid = spec.stream_id
        sdir = self.workdir / sid
        recorded = read_index(sdir / "recording")
        spans = untranscribed(sdir / "transcribed.json", max(s.t1 for s in recorded)) if recorded else []
        state = read_state(sdir / "state.json")  # a workdir from before ledgers: its earlier runs count as reported
        state_t = state["stream_t"] if state is not None else 0.0
        sdir.mkdir(parents=True, exist_ok=True)
        self.ledgers[sid] = TranscriptLedger(sdir / "transcribed.json", start=state_t)
        self.ingest[sid] = actor = IngestActor.remote(sid, spec.url, str(self.workdir), self.opts)
        if spans:
            n = ray.get(actor.recover.remote(spans), timeout=120)
            log.warning("stream %s: %d window(s) read back from the recording (%s)", sid, n,
                        ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in spans))
            self.on_record({"type": "recovered", "source": sid, "spans": [[round(a, 3), round(b, 3)] for a, b in spans],
                            "windows": n, "reason": "read but not reported before the monitor stopped"})

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
                self._reported(window)
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
                    for window, _ in taken:
                        self.ledgers[sid].taken(window.t0, window.t1)
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
                    self._reported(w)
                continue
            for (window, ready), wt in zip(job.batch, results):
                snap = self.snapshots.get(window.stream_id)
                try:
                    records = self.processor.process(wt, ready, snap.start_wall if snap else None)
                except Exception as exc:  # a bug on one window must not stop the monitoring of all
                    log.exception("processing window %s of %s failed", window.index, window.stream_id)
                    self.on_record({"type": "error", "source": window.stream_id, "message": (
                        f"window {window.t0:.1f}-{window.t1:.1f} s not processed: {type(exc).__name__}: {exc}")})
                    self._reported(window)
                    continue
                for rec in records:
                    if rec["type"] == "finding":
                        self.metrics.findings.labels(window.stream_id, rec["label"]).inc()
                        if rec.get("delay_s") is not None and not rec.get("recovered"):
                            self.metrics.delay.labels(window.stream_id).observe(rec["delay_s"])
                    self.on_record(rec)
                self._reported(window)  # after its records: a kill in between repeats them, loses nothing
                self.metrics.queue_wait.labels(window.stream_id).observe(self.processor.queue_waits[window.stream_id][-1])

    def _reported(self, window) -> None:
        ledger = self.ledgers.get(window.stream_id)
        if ledger is not None:
            ledger.finished(window.t0, window.t1)

    def _status(self, final: bool = False) -> None:
        """Snapshots, metrics, error/gap/ended records, and clip cuts for what the recordings now
        cover (`final`: every clip owed, cut from what is recorded, so a stop loses no evidence)."""
        refs = {sid: a.snapshot.remote() for sid, a in self.ingest.items()}
        for sid, ref in refs.items():
            try:
                snap = ray.get(ref, timeout=CALL_TIMEOUT_S)
            except (RayActorError, GetTimeoutError):
                continue
            self.snapshots[sid] = snap
            self.metrics.update_stream(snap)
            self._report_problems(sid, snap)
        covered = {}
        for sid, a in self.ingest.items():
            try:
                covered[sid] = ray.get(a.covered_until.remote(), timeout=CALL_TIMEOUT_S)
            except (RayActorError, GetTimeoutError):
                pass
        ended = set(self.ingest) if final else set(self._reported_end)
        ended |= {c.source for c in self.processor.pending_clips if c.source not in self.ingest}
        for clip in self.processor.ready_clips(covered, ended):
            actor = self.ingest.get(clip.source)
            if actor is not None:  # cut next to the recording, off the driver loop
                self.clip_calls[actor.cut_clip.remote(clip.t0, clip.t1, clip.out)] = clip
            else:  # owed by an earlier run for a stream not watched now: cut from its files here
                rec_dir = self.workdir / clip.source / "recording"
                self.clip_calls[self._local_clips.submit(
                    lambda c=clip, d=rec_dir: str(cut_clip(read_index(d), c.t0, c.t1, c.out)))] = clip
        self._collect_clips(wait=final)

    def _report_problems(self, sid: str, snap: IngestSnapshot) -> None:
        """Error records while a stream is failing (not only when it is given up), gap records as
        holes close, and the end of a stream."""
        if not snap.connected and not snap.ended and snap.last_error and snap.failures:
            last, when = self._errors.get(sid, (None, 0.0))
            if snap.last_error != last or time.time() - when >= ERROR_REPEAT_S:
                self._errors[sid] = (snap.last_error, time.time())
                gives_up = f"; gives up in {snap.give_up_in_s:.0f} s" if snap.give_up_in_s is not None else ""
                self.on_record({"type": "error", "source": sid, "message": (
                    f"{snap.last_error} (attempt {snap.failures}{gives_up})")})
        elif snap.connected:
            self._errors.pop(sid, None)
        for t0, t1, reason in snap.gaps[self._gaps_seen.get(sid, 0):]:
            self.on_record({"type": "gap", "source": sid, "t0": t0, "t1": t1, "seconds": round(t1 - t0, 3),
                            "reason": reason})
        self._gaps_seen[sid] = len(snap.gaps)
        if snap.ended and sid not in self._reported_end:
            self._reported_end.add(sid)
            if stream_state(snap) == "failed":
                self.on_record({"type": "error", "source": sid, "message": (
                    f"stream failed, nothing was received: {snap.ended_reason}")})
            self.on_record({"type": "stream_ended", "source": sid, "reason": snap.ended_reason,
                            "stream_t": snap.stream_t, "gaps": snap.gaps, "received": snap.delivered_any})

    def _collect_clips(self, wait: bool = False) -> None:
        """Records for the clip cuts that have finished (`wait`: for all of them)."""
        deadline = time.time() + 180 if wait else 0.0
        while self.clip_calls:
            refs = [r for r in self.clip_calls if not isinstance(r, Future)]
            futures = [f for f in self.clip_calls if isinstance(f, Future)]
            done = ray.wait(refs, num_returns=len(refs), timeout=0)[0] if refs else []
            done += [f for f in futures if f.done()]
            for call in done:
                clip = self.clip_calls.pop(call)
                try:
                    path = call.result() if isinstance(call, Future) else ray.get(call)
                    rec = self.processor.clip_done(clip, path)
                except (ClipError, RayTaskError, RayActorError, OSError) as exc:
                    reason = str(exc.cause) if isinstance(exc, RayTaskError) and exc.cause else str(exc)
                    rec = self.processor.clip_done(clip, None, reason.strip().splitlines()[-1] if reason else "unknown")
                self.on_record(rec)
            if not wait or not self.clip_calls or time.time() > deadline:
                break
            time.sleep(0.05)
        if wait and self.clip_calls:  # still not back: say so; the journal cuts them on the next start
            for call, clip in list(self.clip_calls.items()):
                self.on_record({"type": "error", "source": clip.source,
                                "message": f"clip {clip.out} not cut before exit; owed in the journal"})
            self.clip_calls.clear()

    def run(self, duration_s: float | None = None, on_status: Callable[[RayMonitor], None] | None = None,
            status_every_s: float = 1.0, until_stopped: bool = False) -> None:
        """Monitor until every stream has ended (and its work is done) or `duration_s` has passed;
        with `until_stopped`, only `duration_s` (or Ctrl-C) ends the run: streams may still join.

        A timed stop or a first Ctrl-C stops the streams first: each closes its open recording
        segment and hands over the audio it holds, which is transcribed and checked; then every
        clip owed is cut. A second Ctrl-C leaves at once (owed clips stay in the journal)."""
        t_end = time.time() + duration_s if duration_s else None
        try:
            self._loop(t_end, on_status, status_every_s, until_stopped)
        except KeyboardInterrupt:
            log.warning("stopping: finishing buffered audio and clips (Ctrl-C again to leave now)")
            self.request_stop()
            self._loop(None, on_status, status_every_s, until_stopped)
        # streams still running at the end of a timed run: their visual findings so far are kept too
        self._finish_visual(list(self.visual_actors))
        self._collect_visual(wait=True)
        self._status(final=True)

    def request_stop(self) -> None:
        """Stop as a timed stop does: streams end, buffered audio is checked, owed clips are cut."""
        if self.stopping_since is None:
            self.stopping_since = time.time()
            for sid in list(self.ingest):
                self.end_stream(sid)

    def _loop(self, t_end: float | None, on_status, status_every_s: float, until_stopped: bool) -> None:
        next_status = 0.0
        while True:
            now = time.time()
            if t_end and now >= t_end:
                self.request_stop()
            if now >= next_status:
                self._status()
                if on_status:
                    on_status(self)
                next_status = now + status_every_s
            self._finish_visual([sid for sid in self.visual_actors if self._stream_done(sid)])
            all_ended = ((not until_stopped or self.stopping_since is not None) and self.snapshots
                         and len(self.snapshots) == len(self.ingest) and all(s.ended for s in self.snapshots.values()))
            if all_ended and not self.inflight and not self.todo and not self.recovering \
                    and not any(s.pending for s in self.snapshots.values()) and not self.visual_inflight \
                    and self._visual_finished >= set(self.visual_actors):
                break
            if self.stopping_since is not None and now - self.stopping_since > STOP_DRAIN_S:
                self.on_record({"type": "error", "source": "monitor", "message": (
                    f"stopped with work left after {STOP_DRAIN_S:.0f} s of draining")})
                break
            self._check_recovering()
            self._pull()
            self._collect(TICK_S)

    def failed_streams(self) -> list[str]:
        """Streams that ended without ever delivering anything (a dead URL, nothing listening)."""
        return [sid for sid, snap in self.snapshots.items() if stream_state(snap) == "failed"]

    def stop(self) -> None:
        self._local_clips.shutdown(wait=True)
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
