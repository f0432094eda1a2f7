"""`liveguard gallery add|list|remove` (protected people) and `liveguard bench vision`.

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


def _cmd_gallery_add(args: argparse.Namespace) -> int:
    from vision.faces import FaceAnalyzer
    from vision.gallery import Gallery, enrol_face

    if args.voice:
        from liveguard.errors import ConfigError

        raise ConfigError("--voice: voice prints are not built yet; enrol the face only")
    gallery = Gallery.open(_gallery_path(args))
    analyzer = FaceAnalyzer()
    # every photo must give exactly one face before anything is written: no half-enrolled person
    prints = [enrol_face(analyzer, path) for path in args.image]
    entry = gallery.add(args.name, face_prints=prints, authorised_accounts=args.authorised_account or (),
                        kind=args.kind, sources=[Path(p).name for p in args.image])
    gallery.save()
    print(f"{entry.name}: {len(entry.face_prints)} face print(s), authorised accounts: "
          f"{', '.join(entry.authorised_accounts) or '(none)'} -> {gallery.path}")
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
    print(f"removed {entry.name} ({len(entry.face_prints)} face print(s))")
    return 0


def _cmd_bench_vision(args: argparse.Namespace) -> int:
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
    print(json.dumps(result) if args.json else
          f"{result['frames']} frames ({result['frame_size']}), {n_faces} faces in {elapsed:.2f} s: "
          f"{result['frames_per_s']} frames/s (upsample {args.upsample})")
    return 0


def add_vision_parsers(sub, bench_sub=None) -> None:
    g = sub.add_parser("gallery", help="protected people: face prints and the accounts each has authorised")
    g.add_argument("--gallery", help=f"gallery file (default: ${GALLERY_ENV} or ./liveguard-gallery.json)")
    gsub = g.add_subparsers(dest="gallery_action", required=True)
    a = gsub.add_parser("add", help="enrol a person from photos (one face per photo); adds to an existing name")
    a.add_argument("--name", required=True)
    a.add_argument("--image", nargs="+", required=True, help="photos, each showing exactly one face")
    a.add_argument("--voice", help="a speech sample (WAV) for a voice print (not built yet)")
    a.add_argument("--authorised-account", nargs="+", help="accounts allowed to show this person")
    a.add_argument("--kind", choices=["protected", "blacklisted"], default="protected")
    a.set_defaults(func=_cmd_gallery_add)
    ls = gsub.add_parser("list", help="list the gallery")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_gallery_list)
    rm = gsub.add_parser("remove", help="remove a person and all their prints")
    rm.add_argument("--name", required=True)
    rm.set_defaults(func=_cmd_gallery_remove)

    if bench_sub is not None:
        b = bench_sub.add_parser("vision", help="face detection + descriptors: frames per second on this machine")
        b.add_argument("--file", default="samples/live_room_en.mp4")
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
