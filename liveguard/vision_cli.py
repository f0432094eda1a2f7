"""`liveguard gallery add|list|remove|calibrate-voice|calibrate-face` (protected people, blacklisted streamers)
and `liveguard bench vision`.

Wiring (in liveguard/cli.py's build_parser): `add_vision_parsers(sub, bsub)`; `bsub` is optional.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["add_vision_parsers", "GALLERY_ENV"]

GALLERY_ENV = "LIVEGUARD_GALLERY"  # where the gallery lives when --gallery is not given


def _gallery_path(args: argparse.Namespace) -> Path:
    from vision.gallery import DEFAULT_GALLERY

    return Path(args.gallery or os.environ.get(GALLERY_ENV) or DEFAULT_GALLERY)


def _voice_prints(paths: list[str]):
    """One print per recording: all of its speech (Silero VAD), one speaker per file."""
    import numpy as np

    from asr.vad import SpeechDetector
    from ingest.decode import AudioBlock, decode_media
    from liveguard.errors import MediaError
    from pipeline.voices import enrol_voice
    from vision.errors import VoiceSampleError
    from vision.voiceprint import VoiceEncoder

    encoder, vad, prints = VoiceEncoder(), SpeechDetector(), []
    for path in paths:
        try:
            audio = [b.samples for b in decode_media(path, frame_fps=0) if isinstance(b, AudioBlock)]
        except MediaError as exc:
            raise VoiceSampleError(f"{path}: not readable audio ({exc})") from exc
        if not audio:
            raise VoiceSampleError(f"{path}: no audio track")
        prints.append(enrol_voice(np.concatenate(audio), encoder, vad, label=str(path)))
    return prints


def _cmd_gallery_add(args: argparse.Namespace) -> int:
    from liveguard.errors import ConfigError
    from vision.gallery import Gallery, enrol_face

    if not args.image and not args.voice:
        raise ConfigError("gallery add needs --image and/or --voice")
    gallery = Gallery.open(_gallery_path(args))
    faces = voices = None
    # every photo and recording must give its print before anything is written: no half-enrolled person
    if args.image:
        from vision.faces import FaceAnalyzer

        analyzer = FaceAnalyzer()
        faces = [enrol_face(analyzer, path) for path in args.image]
    if args.voice:
        voices = _voice_prints(args.voice)
    entry = gallery.add(args.name, face_prints=faces, voice_prints=voices,
                        authorised_accounts=args.authorised_account or (), kind=args.kind,
                        sources=[Path(p).name for p in (args.image or []) + (args.voice or [])])
    gallery.save()
    accounts = "known accounts" if entry.kind == "blacklisted" else "authorised accounts"
    print(f"{entry.name} ({entry.kind}): {len(entry.face_prints)} face print(s), {len(entry.voice_prints)} voice "
          f"print(s), {accounts}: {', '.join(entry.authorised_accounts) or '(none)'} -> {gallery.path}")
    return 0


def _cmd_calibrate_voice(args: argparse.Namespace) -> int:
    from liveguard.voice_calibration import calibrate_voice, format_calibration

    report = calibrate_voice(threshold=args.threshold)
    print(json.dumps(report.to_json(), indent=1) if args.json else format_calibration(report))
    return 0


def _cmd_calibrate_face(args: argparse.Namespace) -> int:
    from liveguard.face_calibration import calibrate_face, format_face_calibration

    report = calibrate_face(variants=args.variants, lfw=args.lfw, threshold=args.threshold)
    print(json.dumps(report.to_json(), indent=1) if args.json else format_face_calibration(report))
    return 0


def _cmd_gallery_list(args: argparse.Namespace) -> int:
    from vision.gallery import Gallery

    gallery = Gallery.open(_gallery_path(args))
    rows = [{"name": e.name, "kind": e.kind, "face_prints": len(e.face_prints), "voice_prints": len(e.voice_prints),
             "authorised_accounts": list(e.authorised_accounts), "added_at": e.added_at} for e in gallery]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print(f"(empty gallery: {gallery.path})")
        return 0
    table = [("name", "kind", "faces", "voices", "authorised accounts")] + [
        (r["name"], r["kind"], str(r["face_prints"]), str(r["voice_prints"]), ", ".join(r["authorised_accounts"]))
        for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table))
    return 0


def _cmd_gallery_remove(args: argparse.Namespace) -> int:
    from vision.gallery import Gallery

    gallery = Gallery.open(_gallery_path(args))
    entry = gallery.remove(args.name)
    gallery.save()
    print(f"removed {entry.name} ({len(entry.face_prints)} face print(s), {len(entry.voice_prints)} voice print(s))")
    return 0


def _cmd_bench_vision(args: argparse.Namespace) -> int:
    if not args.file:
        from liveguard.vision_bench import bench_rooms, format_rooms

        log = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
        if args.live:
            from liveguard.vision_bench import bench_live_rooms, format_live_rooms

            res = bench_live_rooms(args.heights, args.live, args.duration, log=log)
            print(json.dumps(res) if args.json else format_live_rooms(res))
            return 0
        res = bench_rooms(args.heights, args.duration, scans=not args.no_scans, log=log)
        print(json.dumps(res) if args.json else format_rooms(res))
        return 0
    from ingest.windows import WindowOptions, iter_file_windows
    from pipeline.impersonation import iter_frames
    from vision.faces import FaceAnalyzer, FaceOptions

    frames = list(iter_frames(iter_file_windows(args.file, opts=WindowOptions(frame_fps=args.fps,
                                                                             frame_height=args.height))))
    if args.frames:
        frames = frames[:args.frames]
    analyzer = FaceAnalyzer(FaceOptions(upsample=args.upsample))
    analyzer.embedder  # load outside the timing
    t = time.perf_counter()
    n_faces = sum(len(analyzer.faces(f.image, f.t)) for f in frames)
    elapsed = time.perf_counter() - t
    result = {"file": args.file, "frames": len(frames), "faces": n_faces, "seconds": round(elapsed, 3),
              "frames_per_s": round(len(frames) / elapsed, 2) if elapsed else None,
              "frame_size": list(frames[0].image.shape[:2]) if frames else None, "upsample": args.upsample}
    result.update(_bench_voice(args.file))
    print(json.dumps(result) if args.json else
          f"{result['frames']} frames ({result['frame_size']}), {n_faces} faces in {elapsed:.2f} s: "
          f"{result['frames_per_s']} frames/s (upsample {args.upsample})\n"
          f"voices: {result['voice_audio_s']} s of audio ({result['voice_speech_s']} s speech, "
          f"{result['voice_turns']} turns) in {result['voice_seconds']} s: {result['voice_audio_s_per_s']} s of audio "
          f"per second (VAD + prints + matching; prints alone: {result['voice_speech_s_per_s']} s of speech "
          f"per second)")
    return 0


def _bench_voice(path: str) -> dict:
    """The voice path of a scan (Silero VAD, speech turns, prints, gallery match) on a file's audio."""
    import numpy as np

    from asr.vad import SpeechDetector
    from ingest.windows import WindowOptions, iter_file_windows
    from pipeline.voices import VoiceChecker
    from vision.gallery import Gallery
    from vision.voiceprint import VOICE_DIM, VoiceEncoder

    windows = list(iter_file_windows(path, opts=WindowOptions(frame_fps=0)))
    gallery = Gallery()
    someone = np.random.default_rng(0).random(VOICE_DIM).astype(np.float32)
    gallery.add("bench", voice_prints=someone / np.linalg.norm(someone))
    encoder, vad = VoiceEncoder(), SpeechDetector()
    embed_s = 0.0
    embed_many = encoder.embed_many

    def timed(utterances):  # time spent in the encoder alone, inside the whole path
        nonlocal embed_s
        t0 = time.perf_counter()
        try:
            return embed_many(utterances)
        finally:
            embed_s += time.perf_counter() - t0

    encoder.embed_many = timed
    checker = VoiceChecker(path, None, gallery, encoder, vad)
    t = time.perf_counter()
    for w in windows:
        checker.feed(w)
    checker.finish()
    elapsed = time.perf_counter() - t
    audio_s = sum(w.duration for w in windows)
    return {"voice_audio_s": round(audio_s, 1), "voice_speech_s": round(checker.speech_s, 1),
            "voice_turns": checker.turns_seen, "voice_seconds": round(elapsed, 3),
            "voice_audio_s_per_s": round(audio_s / elapsed, 1) if elapsed else None,
            "voice_speech_s_per_s": round(checker.speech_s / embed_s, 1) if embed_s else None}


def add_vision_parsers(sub, bench_sub=None) -> None:
    g = sub.add_parser("gallery", help="protected people and blacklisted streamers: face and voice prints, accounts")
    g.add_argument("--gallery", help=f"gallery file (default: ${GALLERY_ENV} or ./liveguard-gallery.json)")
    gsub = g.add_subparsers(dest="gallery_action", required=True)
    a = gsub.add_parser("add", help="enrol a person from photos and/or speech recordings; adds to an existing name")
    a.add_argument("--name", required=True)
    a.add_argument("--image", nargs="+", help="photos, each showing exactly one face")
    a.add_argument("--voice", nargs="+", help="recordings of this person alone speaking (any audio/video file, "
                   "at least 3 s of speech, 10 s or more is better): one voice print each")
    a.add_argument("--authorised-account", nargs="+",
                   help="protected: accounts allowed to show this person; blacklisted: their own known accounts")
    a.add_argument("--kind", choices=["protected", "blacklisted"], default="protected")
    a.set_defaults(func=_cmd_gallery_add)
    ls = gsub.add_parser("list", help="list the gallery")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_gallery_list)
    rm = gsub.add_parser("remove", help="remove a person and all their prints")
    rm.add_argument("--name", required=True)
    rm.set_defaults(func=_cmd_gallery_remove)
    cv = gsub.add_parser("calibrate-voice", help="same/different-speaker voice similarities on the bundled real "
                         "speech, with false accept / reject rates per threshold")
    cv.add_argument("--threshold", type=float, help="mark this threshold (default: the one in use)")
    cv.add_argument("--json", action="store_true")
    cv.set_defaults(func=_cmd_calibrate_voice)
    cf = gsub.add_parser("calibrate-face", help="same/different-person face print distances on the real faces "
                         "that install offline (generated sizes, JPEG, light, pose, blur), with false accept / "
                         "reject rates per threshold")
    cf.add_argument("--variants", type=int, default=60, help="generated probes per identity")
    cf.add_argument("--lfw", action="store_true", help="also scikit-image's 100 unnamed LFW crops, as strangers")
    cf.add_argument("--threshold", type=float, help="mark this threshold (default: the one in use)")
    cf.add_argument("--json", action="store_true")
    cf.set_defaults(func=_cmd_calibrate_face)

    if bench_sub is not None:
        b = bench_sub.add_parser("vision", help="faces and OCR on generated 720p/1080p live rooms, before and after "
                                 "issue #14, with whole scans timed against the plain scan; or, with --file, face "
                                 "detection + descriptors and the voice path on a recording")
        b.add_argument("--file", help="time the face path (frames/s) and the voice path on this recording instead")
        b.add_argument("--heights", type=int, nargs="+", default=[720, 1080], help="room resolutions (lines)")
        b.add_argument("--duration", type=float, default=60.0, help="seconds of each generated room")
        b.add_argument("--no-scans", action="store_true", help="time faces and OCR only, not whole scans")
        b.add_argument("--live", type=int, metavar="N", help="instead: N copies of each room played in real time "
                       "through monitor --gallery --ocr; reports whether the visual checks keep up (lag p50/p95)")
        b.add_argument("--fps", type=float, default=1.0, help="frames sampled per second of video")
        b.add_argument("--height", type=int, default=360, help="frames scaled to this height")
        b.add_argument("--upsample", type=int, default=1, help="HOG upsampling (0: faces >= 80 px only)")
        b.add_argument("--frames", type=int, help="time at most this many frames")
        b.add_argument("--json", action="store_true")
        b.set_defaults(func=_cmd_bench_vision)


if __name__ == "__main__":  # pragma: no cover - manual use before the lead wires it into `liveguard`
    from liveguard.errors import LiveGuardError

    parser = argparse.ArgumentParser(prog="liveguard")
    subs = parser.add_subparsers(dest="command", required=True)
    bench = subs.add_parser("bench").add_subparsers(dest="bench", required=True)
    add_vision_parsers(subs, bench)
    ns = parser.parse_args()
    try:
        sys.exit(ns.func(ns))
    except LiveGuardError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
