"""`liveguard monitor` (live streams) and `liveguard bench live`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["add_monitor_parsers", "live_table"]


def live_table(mon) -> str:
    from pipeline.metrics import stream_state

    rows = [("stream", "state", "stream_t", "lag_s", "pending", "dropped", "reconn", "gap_s", "findings",
             "p95_delay", "gives_up_in")]
    delays = mon.delay_summary()
    for sid, snap in sorted(mon.snapshots.items()):
        state = stream_state(snap)
        d = delays.get(sid)
        rows.append((sid, state, f"{snap.stream_t:.1f}", f"{snap.ingest_lag_s:.1f}", str(snap.pending),
                     str(snap.dropped), str(snap.reconnects), f"{snap.gap_seconds:.1f}",
                     str(mon.processor.findings.get(sid, 0)), f"{d['p95']:.1f}" if d else "-",
                     f"{snap.give_up_in_s:.0f} s" if snap.give_up_in_s is not None else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def _monitor_options(args, decode_frames: bool = True):
    from ingest.live import LiveOptions
    from ingest.recorder import RecorderOptions
    from pipeline.live import MonitorOptions

    return MonitorOptions(window_max_s=args.window_s, window_min_s=args.window_s / 2, batch_size=args.batch_size,
                          merge_max_s=args.merge_max_s,
                          clip_before_s=args.clip_before, clip_after_s=args.clip_after,
                          recorder=RecorderOptions(retention_s=args.retention),
                          live=LiveOptions(give_up_after_s=args.give_up, frame_fps=args.frame_fps if decode_frames else 0,
                                           hls_start_segments=args.hls_start))


class VisualCheckers:
    """Builds a stream's visual checker inside its Ray actor from plain option values, so models
    load there and nothing unpicklable (ONNX sessions, dlib models) crosses between processes."""

    def __init__(self, per_stream: dict[str, dict], defaults: dict | None = None):
        self.per_stream = per_stream  # stream id -> scan-style option values, with that stream's account
        self.defaults = defaults or {}  # the option values for streams that join later

    def add(self, stream_id: str, listing=None) -> None:
        """Options for a stream that joins while the monitor runs (before its actor is made)."""
        self.per_stream[stream_id] = {**self.defaults, "account": None, "listing": listing, "live": True}

    def __call__(self, stream_id: str):
        from claims.defaults import make_detector
        from liveguard.cli import _visual_factory
        from liveguard.synthetic_cli import with_synthetic

        values = self.per_stream[stream_id]
        listing = values.get("listing")
        if listing:  # on-screen text is checked against the stream's listing too (a file or a dict)
            from claims import Listing, load_listing

            listing = Listing.from_dict(listing) if isinstance(listing, dict) else load_listing(listing)
        detector = make_detector(values.get("claims") or "combined", listing=listing or None,
                                 model_dir=values.get("claims_model"))
        return with_synthetic(argparse.Namespace(**values), detector, _visual_factory)(stream_id)


def _visual_for(args: argparse.Namespace, stream_ids: list[str]) -> VisualCheckers | None:
    from liveguard.synthetic_cli import synthetic_enabled

    if not (args.gallery or args.ocr or synthetic_enabled(args)):
        return None
    if args.gallery:
        from vision.gallery import Gallery

        Gallery.open(args.gallery)  # a bad gallery is an error now, not in every actor later
    accounts = _per_stream(args.account, stream_ids, "--account")
    listings = _per_stream(args.listing, stream_ids, "--listing")
    values = {k: v for k, v in vars(args).items() if k != "func"}
    return VisualCheckers({sid: {**values, "account": accounts[i], "listing": listings[i], "live": True}
                           for i, sid in enumerate(stream_ids)}, defaults=values)


def _per_stream(values: list[str] | None, stream_ids: list[str], option: str) -> list[str | None]:
    """One value for all streams or one per URL (as --account and --listing take them)."""
    values = values or []
    if len(values) == 1:
        values = values * len(stream_ids)
    if values and len(values) != len(stream_ids):
        raise SystemExit(f"error: give one {option} for all streams or one per URL")
    return values or [None] * len(stream_ids)


def _listing_detectors(args: argparse.Namespace, stream_ids: list[str]) -> dict:
    """Stream id -> claims detector with that stream's product listing (bad files fail here, at
    start, with the file named)."""
    from claims import load_listing
    from claims.defaults import make_detector

    mode, model_dir = getattr(args, "claims", "combined"), getattr(args, "claims_model", None)
    return {sid: make_detector(mode, listing=load_listing(path), model_dir=model_dir) for sid, path in
            zip(stream_ids, _per_stream(args.listing, stream_ids, "--listing")) if path}


def _open_out(path: str):
    """The JSON-lines output, appended to; a line torn by a crash of the last run is closed first, so
    the next record is not glued onto it."""
    p = Path(path)
    if p.exists() and p.stat().st_size:
        with open(p, "rb") as f:
            f.seek(-1, 2)
            torn = f.read(1) != b"\n"
        if torn:
            with open(p, "a", encoding="utf-8") as f:
                f.write("\n")
    return open(p, "a", encoding="utf-8")


def _reported_in(path: str | None, tail_bytes: int = 8 << 20) -> dict[str, list[dict]]:
    """Transcript and finding records at the end of an earlier run's output, per stream: what a
    run killed with -9 had already written (see pipeline.ledger)."""
    if not path or not Path(path).exists():
        return {}
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, 2) - tail_bytes))
        lines = f.read().decode("utf-8", errors="replace").splitlines()
    out: dict[str, list[dict]] = {}
    for line in lines:
        try:
            rec = json.loads(line)
            if rec.get("type") in ("transcript", "finding"):
                out.setdefault(rec["source"], []).append(
                    {k: rec[k] for k in ("type", "label", "t0", "t1") if k in rec})
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a torn line or a line cut by the tail read
    return out


def _session_started(workdir: Path) -> str:
    """When monitoring in `workdir` started, kept in the workdir: a monitor restarted on the same
    workdir (after a crash, kill -9) goes on with the same database recording rows, so a record
    it stores again is recognised and not duplicated."""
    from datetime import datetime, timezone

    path = Path(workdir) / "monitor-session.json"
    try:
        return json.loads(path.read_text())["started"]
    except (OSError, ValueError, KeyError, TypeError):
        started = datetime.now(timezone.utc).isoformat()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"started": started}))
        tmp.replace(path)
        return started


def _live_store(args: argparse.Namespace, urls: dict[str, str], service_ids: dict[str, int]):
    """Transcripts and findings into the database scan uses (one recordings row per stream and
    monitoring session), or None with --db none. A database error is reported, never fatal: the
    JSON-lines output still has every record. `urls`: stream id -> URL, streams that join later
    included; `service_ids`: stream id -> the service's stream id, for streams it started."""
    if args.db == "none":
        return None
    from serve import make_engine, make_sessionmaker
    from serve.store import live_recording_key, save_live_record

    sessions = make_sessionmaker(make_engine(args.db))
    started = _session_started(Path(args.workdir))

    def store(rec: dict) -> None:
        url = urls.get(rec.get("source"))
        if url is None:
            return
        key = live_recording_key(rec["source"], url, started)
        try:
            with sessions() as session:
                save_live_record(session, key, url, rec, flags=not args.no_flags,
                                 service_stream_id=service_ids.get(rec["source"]))
        except Exception as exc:  # noqa: BLE001 - the database is a copy; the record is already in --out
            print(f"warning: record not stored in {args.db}: {type(exc).__name__}: {exc}", file=sys.stderr)

    return store


class _ServiceSync:
    """Keeps the monitor's streams in step with the service's list of monitored streams."""

    def __init__(self, args: argparse.Namespace):
        import os

        self.url, self.poll_s = args.from_service, args.poll_s
        self.claims, self.claims_model = args.claims, args.claims_model
        self.key = os.environ.get(args.key_env, "")
        self.latest: dict | None = None  # stream id -> ServiceStream, from the last good poll
        self.next_poll = 0.0
        self.watched: set[str] = set()
        self.service_ids: dict[str, int] = {}  # stream id -> the service's stream id (flags name the streamer)

    def poll(self) -> dict | str:
        """The monitored streams by stream id, or the error message."""
        from liveguard.service_streams import ServiceError, fetch_monitored, stream_key

        self.next_poll = time.time() + self.poll_s
        if not self.key:
            return "--from-service needs an API key in the environment variable named by --key-env"
        try:
            self.latest = {stream_key(s): s for s in fetch_monitored(self.url, self.key)}
        except ServiceError as exc:
            return str(exc)
        return self.latest

    def sync(self, mon, urls: dict[str, str], visual) -> None:
        """Start streams the service lists and the monitor does not watch; end those no longer listed."""
        if time.time() >= self.next_poll:
            found = self.poll()
            if isinstance(found, str):
                print(f"warning: {found} (watching the streams as they were)", file=sys.stderr)
                return
        if self.latest is None:
            return
        from claims import Listing, ListingError
        from claims.defaults import make_detector
        from pipeline.ray_monitor import StreamSpec

        for sid, stream in self.latest.items():
            if sid in self.watched or sid in mon.ingest:
                continue
            detector = None
            if stream.listing:
                try:
                    detector = make_detector(self.claims, listing=Listing.from_dict(stream.listing),
                                             model_dir=self.claims_model)
                except ListingError as exc:
                    mon.on_record({"type": "error", "source": sid, "message": f"listing ignored: {exc}"})
            if visual is not None:
                visual.add(sid, stream.listing if detector is not None else None)
            urls[sid] = stream.url
            self.service_ids[sid] = stream.id
            mon.add_stream(StreamSpec(sid, stream.url), detector)
            self.watched.add(sid)
            mon.on_record({"type": "stream_started", "source": sid, "url": stream.url, "service_id": stream.id})
        for sid in sorted(self.watched - set(self.latest)):
            mon.end_stream(sid)  # stopped in the service: reported as ended ("stopped") once its work is done
            self.watched.discard(sid)


def _cmd_monitor(args: argparse.Namespace) -> int:
    from pipeline.ray_monitor import RayMonitor, StreamSpec

    ids = args.stream_id or []
    if ids and len(ids) != len(args.urls):
        print("error: give one --stream-id per URL (or none)", file=sys.stderr)
        return 2
    if not args.urls and not args.from_service:
        print("error: give stream URLs, --from-service URL, or both", file=sys.stderr)
        return 2
    specs = [StreamSpec(ids[i] if ids else f"stream{i + 1}", url) for i, url in enumerate(args.urls)]
    service = _ServiceSync(args) if args.from_service else None
    if service is not None:
        found = service.poll()  # at start a service that cannot be asked is an error, not a warning
        if isinstance(found, str):
            print(f"error: {found}", file=sys.stderr)
            return 1
    visual = _visual_for(args, [s.stream_id for s in specs])
    from claims.defaults import make_detector

    # rules + the fine-tuned model for every stream without a listing; a missing build fails here
    default_detector = make_detector(args.claims, model_dir=args.claims_model)
    detectors = _listing_detectors(args, [s.stream_id for s in specs])
    reported = _reported_in(args.out)
    out = _open_out(args.out) if args.out else sys.stdout
    lock = threading.Lock()
    urls = {s.stream_id: s.url for s in specs}
    store = _live_store(args, urls, service.service_ids if service is not None else {})

    def on_record(rec: dict) -> None:
        with lock:
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            out.flush()
            if store is not None:
                store(rec)

    def on_status(mon) -> None:
        if service is not None:
            service.sync(mon, urls, visual)
        if not args.quiet:
            print(f"\n[{time.strftime('%H:%M:%S')}]\n" + live_table(mon), file=sys.stderr, flush=True)

    try:  # the output file is closed however the run ends (a failed start included)
        mon = RayMonitor(specs, Path(args.workdir), _monitor_options(args, decode_frames=visual is not None),
                         model=args.model,
                         device=args.device, engine=args.engine, n_asr=args.asr_actors, asr_gpus=args.asr_gpus,
                         on_record=on_record, visual=visual, detectors=detectors, detector=default_detector,
                         reported=reported)
        if args.metrics_port:
            mon.metrics.serve(args.metrics_port)
        mon.start()
        try:
            mon.run(duration_s=args.duration, on_status=on_status, status_every_s=args.status_every,
                    until_stopped=service is not None)
        except KeyboardInterrupt:
            pass
        finally:
            mon.stop()
    finally:
        if out is not sys.stdout:
            out.close()
    print(live_table(mon), file=sys.stderr)
    failed = mon.failed_streams()
    if failed and len(failed) == len(mon.ingest):
        print(f"error: no stream delivered anything ({', '.join(failed)}); see the error records", file=sys.stderr)
        return 1
    return 0


def _cmd_bench_live(args: argparse.Namespace) -> int:
    from pipeline.bench_live import format_live_bench, run_live_bench

    res = run_live_bench(args.file, args.streams, model=args.model, device=args.device, engine=args.engine,
                         batch_size=args.batch_size, merge_max_s=args.merge_max_s,
                         window_s=args.window_s, duration_s=args.duration, naive=not args.no_baseline)
    print(json.dumps(res, indent=2) if args.json else format_live_bench(res))
    return 0


def add_monitor_parsers(sub, bench_sub) -> None:
    from liveguard.synthetic_cli import add_synthetic_scan_options

    m = sub.add_parser("monitor", help="watch live streams (RTMP, HTTP-FLV, HLS, RTSP, or files in real time)")
    m.add_argument("urls", nargs="*", help="stream URLs or media files (files are played at real-time speed)")
    m.add_argument("--from-service", metavar="URL",
                   help="also watch the streams the LiveGuard service lists as monitored (POST /streams/{id}/start), "
                        "starting and stopping them as the service says; runs until --duration or Ctrl-C")
    m.add_argument("--key-env", default="LIVEGUARD_API_KEY",
                   help="environment variable holding the API key for --from-service (default: %(default)s)")
    m.add_argument("--poll-s", type=float, default=5.0, help="seconds between polls of the service's stream list")
    m.add_argument("--stream-id", nargs="+", help="one id per URL (default stream1, stream2, ...)")
    m.add_argument("--out", help="append JSON-lines records here (default: stdout)")
    m.add_argument("--workdir", default=tempfile.gettempdir() + "/liveguard-monitor",
                   help="rolling recordings, clips and state (default: %(default)s)")
    m.add_argument("--duration", type=float, help="stop after this many seconds (default: when all streams end)")
    m.add_argument("--model", default="whisper-base")
    m.add_argument("--device", default=None)
    m.add_argument("--engine", choices=["auto", "torch", "ct2"], default="auto",
                   help="ASR engine: CTranslate2 (int8 on CPU) for registry models when auto")
    m.add_argument("--asr-actors", type=int, default=1, help="ASR actors (each holds one model)")
    m.add_argument("--asr-gpus", type=float, default=0.0, help="GPUs per ASR actor (e.g. 0.5 to share one)")
    m.add_argument("--batch-size", type=int, default=8, help="windows across streams per Whisper call")
    m.add_argument("--window-s", type=float, default=8.0, help="longest live window; the delay floor")
    m.add_argument("--merge-max-s", type=float, default=28.0,
                   help="under load, join a stream's waiting windows up to this many seconds per Whisper "
                        "input (more throughput, more delay); 0: never")
    m.add_argument("--frame-fps", type=float, default=1.0)
    m.add_argument("--clip-before", type=float, default=5.0, help="seconds of clip before a finding")
    m.add_argument("--clip-after", type=float, default=5.0, help="seconds of clip after a finding")
    m.add_argument("--retention", type=float, default=600.0, help="seconds of rolling recording kept")
    m.add_argument("--give-up", type=float, default=60.0,
                   help="seconds unreachable (or, for HLS, with a playlist that stopped growing) before a stream "
                        "is ended")
    m.add_argument("--hls-start", type=int, default=3, metavar="N",
                   help="join live HLS N segments behind the live edge (a large N: from the oldest segment the "
                        "playlist still lists)")
    m.add_argument("--gallery", help="gallery of protected people and blacklisted streamers: check each "
                   "stream's faces and voices against it")
    m.add_argument("--account", nargs="+", help="the platform account of each stream (one for all, or one per URL)")
    m.add_argument("--ocr", action="store_true", help="read on-screen text: claims shown on screen and the AI label")
    m.add_argument("--min-face-px", type=int, default=40,
                   help="smallest face checked against the gallery, in source pixels (up to 1080p; default: %(default)s)")
    m.add_argument("--claims", choices=["combined", "rules"], default="combined",
                   help="claims detector: the rules and the fine-tuned model together (default), or the rules alone")
    m.add_argument("--claims-model", metavar="DIR", help="a claims model directory of your own (`claims train --out`)")
    m.add_argument("--listing", nargs="+", help="JSON listing of the product on sale in each stream (one for all, or "
                                                "one per URL): claims that contradict it are flagged")
    add_synthetic_scan_options(m)
    m.add_argument("--db", default="sqlite:///liveguard.sqlite",
                   help="SQLAlchemy URL to store transcripts and findings in (as scan does), or 'none' "
                        "(default: %(default)s)")
    m.add_argument("--no-flags", action="store_true",
                   help="store findings only; do not put them in the review queue as flags")
    m.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT")
    m.add_argument("--status-every", type=float, default=2.0, help="seconds between live table prints")
    m.add_argument("-q", "--quiet", action="store_true")
    m.set_defaults(func=_cmd_monitor)

    b = bench_sub.add_parser("live", help="simultaneous real-time streams: the most that keep p95 delay < 10 s")
    b.add_argument("--file", default="samples/live_room_en.mp4", help="recording each stream plays")
    b.add_argument("--streams", type=int, nargs="+", default=[1, 2, 3, 4], help="stream counts to try")
    b.add_argument("--model", default="whisper-base")
    b.add_argument("--device", default=None)
    b.add_argument("--engine", choices=["auto", "torch", "ct2"], default="auto")
    b.add_argument("--batch-size", type=int, default=8)
    b.add_argument("--window-s", type=float, default=8.0)
    b.add_argument("--merge-max-s", type=float, default=28.0, help="as for monitor; the naive baseline never merges")
    b.add_argument("--duration", type=float, default=None, help="seconds per trial (default: the file's length)")
    b.add_argument("--no-baseline", action="store_true", help="skip the naive one-call-per-window baseline")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_cmd_bench_live)
