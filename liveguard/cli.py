"""The `liveguard` command: parses arguments and calls library functions.

It catches only LiveGuardError (printed as `error: <Type>: message`, exit 1); anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from pathlib import Path

from liveguard.errors import LiveGuardError
from liveguard.heap import keep_heap

__all__ = ["main", "build_parser"]


def _cmd_scan(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from asr import AsrOptions, DecodeOptions, Transcriber, load_whisper
    from claims import RuleSet
    from claims.defaults import make_detector
    from ingest import WindowOptions, probe
    from liveguard.report import scan_records, summary_table, write_records
    from pipeline import collect_inputs, scan_file

    attributions = _attributions(args)  # a bad manifest is an error before any work starts
    if attributions is None:
        return 2
    # rule and listing files first: a bad one is an error before any work starts
    ruleset = RuleSet.from_files(args.rules) if args.rules else RuleSet.load_default()
    listing = None
    if args.listing:  # the product on sale: contradictions and category-aware checks join the rules
        from claims import load_listing

        listing = load_listing(args.listing)
    # rules + the fine-tuned model. The model (7 s to build on 2 cores) loads in a helper thread,
    # started when VAD first hears speech, while Whisper transcribes it: recordings without speech
    # never pay for it. A missing build still ends the run with its error (`claims.check`).
    detector = make_detector(args.claims, ruleset, listing, model_dir=args.claims_model, eager=False)
    claims = _Background(_claims_loader(args) if args.claims == "combined" else None)
    paths = collect_inputs(args.paths, all_files=args.all_files)
    if args.paths and not paths:
        print("error: no media files found in " + " ".join(args.paths), file=sys.stderr)
        return 1
    cli_account = args.account
    by_path = dict(attributions.get("files", {}))  # manifest rows
    for p in paths:
        by_path.setdefault(p.resolve(), attributions.get("all"))
    paths = [p for p in paths if p.resolve() not in attributions.get("files", {})] + list(attributions.get("files", {}))
    detectors = {None: detector}  # per listing file named in the manifest
    for attr in by_path.values():
        if attr is not None and attr.listing and attr.listing not in detectors:
            from claims import load_listing

            detectors[attr.listing] = make_detector(args.claims, ruleset, load_listing(attr.listing),
                                                    model_dir=args.claims_model, eager=False)
    # Recordings: consecutive windows share full 30-s inputs (asr.joining), the file is decoded
    # and VAD-checked ahead of Whisper in a helper thread (about 16 windows, ~6 min of audio, ~25 MB),
    # and each batch decodes in another while the next one is read and encoded (overlap; the last
    # batch's rows spread over the cores: spread).
    transcriber = Transcriber(load_whisper(args.model, args.device, engine=args.engine),
                              AsrOptions(batch_size=args.batch_size,
                                         decode=DecodeOptions(language=args.language, spread=True),
                                         join=True, prefetch=16, overlap=True))
    gc.freeze()  # the model and what its imports made (see main)
    window_opts = WindowOptions(frame_fps=args.frame_fps)
    from liveguard.synthetic_cli import synthetic_enabled, with_synthetic

    visual = with_synthetic(args, detector, _visual_factory)
    if visual is not None and not synthetic_enabled(args) and not args.quiet:
        print("note: synthetic-media check off (no --synthetic-image / --synthetic-voice model; none ships)",
              file=sys.stderr)
    sessions = engine = None
    if args.db != "none":
        from serve import make_engine, make_sessionmaker, save_scan

        engine = make_engine(args.db)
        sessions = make_sessionmaker(engine)

    total = 0.0
    for p in paths:  # for the progress bar only; a probe failure is reported by the scan itself
        try:
            total += probe(p).duration_s or 0.0
        except LiveGuardError:
            pass
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    scans, first, t_start = [], True, time.perf_counter()
    bar = tqdm(total=round(total, 1), unit="audio-s", disable=args.quiet, file=sys.stderr, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} audio-s [{elapsed}<{remaining}] {postfix}")
    try:
        for i, path in enumerate(paths):
            bar.set_postfix_str(f"file {i + 1}/{len(paths)}, {bar.n / 3600:.2f} audio-h")
            attr = by_path.get(Path(path).resolve())
            # the gallery's account checks read it per file: this file's account, else the option's
            args.account = attr.account if attr is not None and attr.account else cli_account
            scan = scan_file(path, transcriber, detectors[attr.listing if attr is not None else None], window_opts,
                             on_window=lambda s: bar.update(round(s, 1)), visual=visual, on_speech=claims.start)
            scans.append(scan)
            claims.check()  # the claims model failed to load: stop with its error, as before any work
            for message in scan.errors:
                bar.write(f"error: {message}", file=sys.stderr)
            first = write_records(out, scan_records(scan), args.format, first)
            if sessions is not None:
                with sessions() as session:
                    save_scan(session, scan)
                    if scan.sha256 and not args.no_flags:
                        for message in _queue_for_review(session, scan, attr, args):
                            bar.write(message, file=sys.stderr)
    finally:
        bar.close()
        if args.format == "json":
            out.write("[]\n" if first else "\n]\n")
        if out is not sys.stdout:
            out.close()
        if engine is not None:
            engine.dispose()
    if not args.quiet:
        print(summary_table(scans, time.perf_counter() - t_start), file=sys.stderr)
    n_errors = sum(len(s.errors) for s in scans)
    return 1 if args.strict and n_errors else 0


def _claims_loader(args: argparse.Namespace):
    def load():
        from claims.defaults import shared_model

        shared_model(args.claims_model)  # the detectors' LazyModel finds it loaded (or waits for it)
    return load


class _Background:
    """`fn` run once in a daemon thread from the first start(); check() waits for it, if started,
    and raises what it raised."""

    def __init__(self, fn):
        self.fn, self.thread, self.failed = fn, None, []

    def start(self) -> None:
        import threading

        if self.fn is None or self.thread is not None:
            return
        self.thread = threading.Thread(target=self._run, name="preload", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised by check()
            self.failed.append(exc)

    def check(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.failed:
            raise self.failed[0]


def _visual_factory(args: argparse.Namespace, detector):
    """The per-file visual checker the options ask for, or None (faces and OCR are opt-in; with
    neither, scan decodes no video). Voices are checked when the gallery holds voice prints."""
    if not args.gallery and not args.ocr:
        return None
    from pipeline.impersonation import ImpersonationOptions, VisualChecker, VisualOptions
    from vision.appearances import WatchOptions
    from vision.gallery import Gallery

    gallery = Gallery.open(args.gallery) if args.gallery else None
    # live (set by `monitor`): on-screen findings are reported as they become certain, not at the end
    live = getattr(args, "live", False)
    faces = ImpersonationOptions(watch=WatchOptions(min_face_px=getattr(args, "min_face_px", 40)))
    opts = VisualOptions(impersonation=faces, live=live) if args.ocr else VisualOptions(faces, ocr=None, live=live)
    voices = None
    if gallery is not None and len(gallery.voice_matrix()[0]):
        from asr.vad import SpeechDetector
        from pipeline.voices import VoiceChecker
        from vision.voiceprint import VoiceEncoder

        encoder, vad = VoiceEncoder(), SpeechDetector()  # loaded once for all files
        voices = lambda source: VoiceChecker(source, args.account, gallery, encoder, vad)  # noqa: E731
    return lambda source: VisualChecker(source, args.account, gallery, detector=detector, opts=opts,
                                        voices=voices(source) if voices else None)


def _attributions(args: argparse.Namespace) -> dict | None:
    """{"all": Attribution | None for the paths given, "files": {path: Attribution} from --manifest},
    or None after printing why the options do not fit."""
    from serve.attribution import Attribution, read_manifest

    if not args.paths and not args.manifest:
        print("error: give media files or directories, or --manifest", file=sys.stderr)
        return None
    if bool(args.streamer) != bool(args.platform):
        print("error: --streamer and --platform go together", file=sys.stderr)
        return None
    if (args.streamer or args.manifest) and (args.db == "none" or args.no_flags):
        print("error: attribution (--streamer, --manifest) is kept with the flags in the database: "
              "give --db and leave out --no-flags", file=sys.stderr)
        return None
    try:
        return {"all": Attribution(args.streamer, args.platform, args.account) if args.streamer else None,
                "files": read_manifest(args.manifest) if args.manifest else {}}
    except LiveGuardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _queue_for_review(session, scan, attr, args: argparse.Namespace) -> list[str]:
    """Findings of a scanned recording become flags in the moderators' review queue (idempotent).
    With an attribution, the flags go to its streamer's stream, each with an evidence clip cut from
    the recording (flags an earlier scan made without one are attached). Returns warnings."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from ingest.recorder import ClipError, Segment, cut_clip
    from serve.attribution import resolve_stream
    from serve.crud import flags_from_recording
    from serve.tables import Recording

    warnings: list[str] = []

    def clip_for(f) -> str | None:
        duration = scan.info.duration_s if scan.info and scan.info.duration_s else f.t1_ms / 1000 + args.clip_after
        t0, t1 = max(0.0, f.t0_ms / 1000 - args.clip_before), min(duration, f.t1_ms / 1000 + args.clip_after)
        out = (Path(args.clips) / f"{scan.sha256[:16]}_{f.label}_{f.t0_ms}.mp4").absolute()
        if out.exists():
            return str(out)  # a re-scan of the same recording: the clip is already cut
        try:
            return str(cut_clip([Segment(str(Path(scan.source).resolve()), 1, 0.0, duration, "file")], t0, t1, out))
        except ClipError as exc:
            warnings.append(f"warning: no evidence clip for {f.label} at {f.t0_ms / 1000:.1f} s: {exc}")
            return None

    with session.begin():
        rec = session.scalar(select(Recording).where(Recording.sha256 == scan.sha256))
        if rec is None:
            return warnings
        stream = None
        if attr is not None:
            stream = resolve_stream(session, attr, str(Path(scan.source).resolve()))
            if attr.recorded_at:
                when = datetime.fromisoformat(attr.recorded_at)
                rec.recorded_at = when if when.tzinfo else when.replace(tzinfo=timezone.utc)  # naive: UTC
        flags_from_recording(session, rec, stream=stream, clip_for=clip_for if attr is not None else None)
    return warnings


def _cmd_models(args: argparse.Namespace) -> int:
    from models import REGISTRY, cache_dir, prepare

    if args.action == "list":
        for spec in REGISTRY.values():
            print(f"{spec.name:14s} {spec.task:5s} {spec.model_id:34s} {spec.license:6s} {spec.source}")
        print(f"cache: {cache_dir()}")
        return 0
    names = args.names or [s.name for s in REGISTRY.values() if s.fmt in ("ct2-whisper", "trained")]
    for name in names:
        if name in REGISTRY and REGISTRY[name].fmt == "trained":
            # the fine-tuned claims model: trained from claims/data/corpus on this machine (minutes)
            from claims.build_model import prepare_claims_model

            path = prepare_claims_model(force=args.force, log=lambda m: print(m, file=sys.stderr))
        else:
            path = prepare(name, force=args.force)
        if not args.quiet:
            print(f"{name}: {path}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from liveguard.bench_asr import format_bench, run_bench

    res = run_bench(args.model, args.device, args.batch_size, args.repeat, args.packed, args.only)
    if args.json:
        print(json.dumps({k: v for k, v in res.items()}, indent=2, ensure_ascii=False))
    else:
        print(format_bench(res))
        if args.verbose:
            for i, name in enumerate(res["names"]):
                print(name)
                for r in res["rows"]:
                    if "hyps" in r:
                        print(f"  {r['path'][:30]:30s} {r['hyps'][i].strip()}")
    return 0


def _cmd_bench_scan(args: argparse.Namespace) -> int:
    import shlex

    from liveguard.bench_scan import format_scan_bench, run_scan_bench

    res = run_scan_bench(args.seconds, (*args.snr, None), args.repeat, args.short or None, args.batch_size,
                         shlex.split(args.scan_args), log=lambda m: print(m, file=sys.stderr, flush=True),
                         root=Path(args.recordings) if args.recordings else None)
    print(json.dumps(res, indent=2) if args.json else format_scan_bench(res))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liveguard", description="Monitor live-commerce streams for illegal claims.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("scan", help="scan recorded streams (files or directories) for findings")
    s.add_argument("paths", nargs="*", help="media files or directories (searched recursively)")
    s.add_argument("--out", help="write the report here (default: stdout)")
    s.add_argument("--format", choices=["jsonl", "json"], default="jsonl", help="JSON lines, or one JSON array")
    s.add_argument("--db", default="sqlite:///liveguard.sqlite",
                   help="SQLAlchemy URL to store findings in, or 'none' (default: %(default)s)")
    s.add_argument("--strict", action="store_true", help="exit 1 when any file had an error")
    s.add_argument("--no-flags", action="store_true",
                   help="store findings only; do not put them in the review queue as flags")
    s.add_argument("--model", default="whisper-base", help="registry name, .pt checkpoint, or openai-whisper name")
    s.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    s.add_argument("--engine", choices=["auto", "torch", "ct2"], default="auto",
                   help="ASR engine: ct2 = CTranslate2 (int8 on CPU) for registry models; torch = openai-whisper")
    s.add_argument("--language", default=None, help="force a language (zh, en); default: detect per window")
    s.add_argument("--batch-size", type=int, default=8, help="windows per Whisper call")
    s.add_argument("--frame-fps", type=float, default=1.0, help="video frames sampled per second (0: none)")
    s.add_argument("--rules", nargs="+", help="rule files to use instead of the bundled ones")
    s.add_argument("--claims", choices=["combined", "rules"], default="combined",
                   help="claims detector: the rules and the fine-tuned model together (default), or the rules alone")
    s.add_argument("--claims-model", metavar="DIR", help="a claims model directory of your own (`claims train --out`); "
                   "default: the built one in the cache")
    s.add_argument("--listing", help="JSON listing of the product on sale (category, material, origin, "
                                     "certifications, price(s), stock): spoken and on-screen claims that contradict "
                                     "it are flagged (claim_contradicts_listing)")
    s.add_argument("--gallery", help="gallery of protected people and blacklisted streamers "
                   "(liveguard gallery add): check faces and voices against it")
    s.add_argument("--account", help="the platform account the recordings were streamed on (for --gallery: "
                   "authorised accounts, a blacklisted streamer's own accounts)")
    s.add_argument("--ocr", action="store_true",
                   help="read on-screen text: claims on screen and the AI-generated label check")
    s.add_argument("--min-face-px", type=int, default=40,
                   help="smallest face checked against the gallery, in source pixels (frames are examined at "
                        "source resolution up to 1080p; default: %(default)s)")
    s.add_argument("--streamer", help="who streamed these recordings: their flags go to this streamer (found by "
                   "--platform/--account, else by this exact name, else created), with an evidence clip each")
    s.add_argument("--platform", help="the platform the recordings were streamed on (with --streamer)")
    s.add_argument("--manifest", help="CSV (with a header) or JSON list: path, streamer, platform, account, listing, "
                   "recorded_at per recording, for batch re-scans of many rooms (paths relative to the manifest)")
    s.add_argument("--clips", default="liveguard-clips",
                   help="where evidence clips of attributed flags are cut (default: %(default)s)")
    s.add_argument("--clip-before", type=float, default=5.0, help="seconds of evidence clip before a finding")
    s.add_argument("--clip-after", type=float, default=5.0, help="seconds of evidence clip after a finding")
    from liveguard.synthetic_cli import add_synthetic_parsers, add_synthetic_scan_options

    add_synthetic_scan_options(s)
    s.add_argument("--all-files", action="store_true", help="in directories, try every file, not only media names")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    s.set_defaults(func=_cmd_scan)

    m = sub.add_parser("models", help="list or prepare the registered model weights")
    m.add_argument("action", choices=["list", "prepare"])
    m.add_argument("names", nargs="*", help="models to prepare (default: all that need it)")
    m.add_argument("--force", action="store_true", help="rebuild even if the cache looks good")
    m.add_argument("-q", "--quiet", action="store_true")
    m.set_defaults(func=_cmd_models)

    b = sub.add_parser("bench", help="benchmarks")
    bsub = b.add_subparsers(dest="bench", required=True)
    ba = bsub.add_parser("asr", help="batched ASR vs a loop over whisper transcribe(), with WER/CER")
    ba.add_argument("--model", default="whisper-base")
    ba.add_argument("--device", default=None)
    ba.add_argument("--batch-size", type=int, default=8)
    ba.add_argument("--repeat", type=int, default=1, help="pass the clip set this many times")
    ba.add_argument("--packed", type=int, default=0,
                    help="instead of the clips, N windows packed with ~28 s of English speech each")
    ba.add_argument("--only", nargs="+", help="run only the paths whose name contains one of these")
    ba.add_argument("--json", action="store_true")
    ba.set_defaults(func=_cmd_bench)

    bs = bsub.add_parser("scan", help="`liveguard scan` against faster-whisper batched, whole processes, on a long "
                         "recording of real speech with and without a music bed")
    bs.add_argument("--seconds", type=float, default=636.0, help="length of the long recording (default: %(default)s)")
    bs.add_argument("--snr", type=float, nargs="+", default=[15.0],
                    help="music beds to test, dB speech-to-music (a clean recording is always added)")
    bs.add_argument("--short", type=float, default=60.0,
                    help="also a short recording of this many seconds, with the first music bed (0: none)")
    bs.add_argument("--repeat", type=int, default=2, help="runs of each path, interleaved (default: %(default)s)")
    bs.add_argument("--batch-size", type=int, default=8)
    bs.add_argument("--scan-args", default="", help="extra options for scan, one string (e.g. '--claims rules')")
    bs.add_argument("--recordings", metavar="DIR", help="where the built recordings are kept (default: <cache>/bench)")
    bs.add_argument("--json", action="store_true")
    bs.set_defaults(func=_cmd_bench_scan)

    from liveguard.claims_cli import add_claims_bench_parser, add_claims_parser
    from liveguard.monitor_cli import add_monitor_parsers
    from liveguard.serve_cli import add_serve_parsers
    from liveguard.vision_cli import add_vision_parsers

    add_vision_parsers(sub, bsub)
    add_synthetic_parsers(sub)
    add_claims_parser(sub)
    add_claims_bench_parser(bsub)
    add_monitor_parsers(sub, bsub)
    add_serve_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    keep_heap()  # before any import starts a thread (see liveguard.heap): Whisper on the CPU pays otherwise
    # Imports make several hundred thousand objects that live as long as the process; the garbage
    # collector walked all of them at each full collection, with the GIL held, and once more at
    # exit (~1.1 s of a 60-s file's scan). They are frozen (never walked again) once the parser's
    # imports are done, and again after the model loads (scan).
    gc.disable()
    try:
        args = build_parser().parse_args(argv)
    finally:
        gc.freeze()
        gc.enable()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except LiveGuardError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # option values rejected by an options dataclass
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if argv is not None:  # called in-process (tests, scripts): their objects are collected as before
            gc.unfreeze()


if __name__ == "__main__":
    sys.exit(main())
