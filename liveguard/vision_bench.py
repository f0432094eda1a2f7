"""`liveguard bench vision` (without --file): the visual checks on 720p and 1080p live rooms, before
and after issue #14, in one run, so a shared machine's load falls on both alike.

The rooms are made here with FFmpeg: a textured set (scikit-image's coffee photo), a host (Grace
Hopper, 150 px face, swaying), a protected person at 40 px walking slowly (the astronaut), an AI
label and a price sticker that changes every 15 s, and a host talking the whole time: real read
speech (the five LibriVox sentences of Debian's pocketsphinx-testdata and the f5-tts English
examples, 0.3 s apart, looped), so the plain scan costs what a talking room's does (its ASR is
the cost that the visual check is compared with). Without pocketsphinx-testdata the bundled
sample's sparse speech is used and the bench says so.

- *before*: frames scaled to 360 lines, every frame searched whole at 2x and every face described
  (what dlib's upsample 1 did), a 3-s track gap and no joining, OCR of every reading whole with the
  angle classifier: the code paths of this version configured as the old ones ran.
- *after*: the defaults (source resolution, changed-region search, ScreenWatch).

Reported per resolution: faces and OCR alone (frames/s, real-time factor = processing seconds per
stream second), and whole scans (ASR included) plain, `--gallery --ocr` before and after, with the
ratio to the plain scan.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

__all__ = ["make_room", "bench_rooms", "format_rooms", "bench_live_rooms", "format_live_rooms"]

SPEECH = Path(__file__).resolve().parents[1] / "samples" / "live_room_en.mp4"  # fallback: little speech
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")  # Debian pocketsphinx-testdata, 16 kHz
F5_ENGLISH = ("basic_ref_en.wav", "main.flac", "town.flac", "country.flac")  # in .cache/testdata (scripts/setup.sh)
SPEECH_GAP_S = 0.3  # pause between sentences of the talking host
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Debian fonts-wqy-microhei


def _ffmpeg(args: list[str]) -> None:
    import subprocess

    from liveguard.errors import MediaError

    proc = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg failed: {proc.stderr[-2000:]}")


def _face_at(image, face_px: int, analyzer):
    import cv2

    (box, _), = analyzer.detector.detect(image)
    scale = face_px / (box[2] - box[0])
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def _text_png(text: str, size: int, colour: tuple, path: Path) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), size)
    x0, y0, x1, y1 = font.getbbox(text)
    img = Image.new("RGBA", (x1 + 16, y1 + 16), (0, 0, 0, 120))
    ImageDraw.Draw(img).text((8, 8), text, font=font, fill=colour)
    img.save(path)
    return path


def talking_host(out: Path, duration: float, log=print) -> Path:
    """A WAV of real read speech, sentence after sentence, for `duration` seconds (module doc)."""
    import wave

    import numpy as np

    from ingest.decode import SAMPLE_RATE, AudioBlock, decode_media
    from liveguard.voice_calibration import TESTDATA

    clips = sorted(LIBRIVOX.glob("*.wav")) + [TESTDATA / n for n in F5_ENGLISH if (TESTDATA / n).exists()]
    if not clips:
        log(f"no {LIBRIVOX} (pocketsphinx-testdata): the room speaks only as much as {SPEECH.name}")
        return SPEECH
    gap = np.zeros(int(SPEECH_GAP_S * SAMPLE_RATE), np.float32)
    one = np.concatenate([part for c in clips for part in
                          (np.concatenate([b.samples for b in decode_media(c, frame_fps=0)
                                           if isinstance(b, AudioBlock)]), gap)])
    audio = np.tile(one, int(np.ceil(duration * SAMPLE_RATE / len(one))))[:int(duration * SAMPLE_RATE)]
    with wave.open(str(out), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SAMPLE_RATE)
        f.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return out


def make_room(out: Path, width: int, height: int, duration: float = 60.0, analyzer=None, log=print) -> Path:
    """The bench's live room (module doc) as an H.264/AAC file at 25 fps, keyframes every 2 s."""
    import cv2
    import matplotlib
    from PIL import Image
    from skimage import data

    from vision.faces import FaceAnalyzer, load_image

    analyzer = analyzer or FaceAnalyzer()
    work = out.parent
    hopper = load_image(Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg")
    pngs = {"bg": cv2.resize(data.coffee(), (width, height), interpolation=cv2.INTER_AREA),
            "host": _face_at(hopper, 150 * height // 720, analyzer), "small": _face_at(data.astronaut(), 40, analyzer)}
    for name, img in pngs.items():
        Image.fromarray(img).save(work / f"{name}.png")
    k = height / 720
    stickers = ["限时秒杀 全网最低价", "今日特价 九十九元", "买一送一 仅限今天", "最后十单 马上下架"]
    for i, s in enumerate(stickers):
        _text_png(s, int(48 * k), (255, 230, 0), work / f"sticker{i}.png")
    _text_png("AI生成", int(36 * k), (255, 255, 255), work / "label.png")
    loop = ["-loop", "1", "-framerate", "25", "-t", f"{duration}", "-i"]
    inputs = [*loop, str(work / "bg.png"), *loop, str(work / "host.png"), *loop, str(work / "small.png"),
              *loop, str(work / "label.png")]
    for i in range(len(stickers)):
        inputs += [*loop, str(work / f"sticker{i}.png")]
    chain = [f"[0:v][1:v]overlay=x='W*0.35+{int(30 * k)}*sin(t)':y='H*0.15+{int(10 * k)}*sin(1.3*t)'[a]",
             f"[a][2:v]overlay=x='W*0.04+{int(4 * k)}*t':y='H*0.3'[b]",
             "[b][3:v]overlay=x='W-w-20':y=20[c]"]
    last = "c"
    for i in range(len(stickers)):
        chain.append(f"[{last}][{4 + i}:v]overlay=x=40:y='H-h-40':enable='between(t,{15 * i},{15 * i + 15})'[s{i}]")
        last = f"s{i}"
    chain.append(f"[{last}]format=yuv420p[v]")
    speech = talking_host(work / "speech.wav", duration, log)
    _ffmpeg([*inputs, "-stream_loop", "-1", "-i", str(speech), "-filter_complex", ";".join(chain),
             "-map", "[v]", "-map", f"{4 + len(stickers)}:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
             "-g", "50", "-c:a", "aac", "-b:a", "64k", "-t", f"{duration}", str(out)])
    return out


def _legacy_visual():
    """The options that reproduce the pre-#14 visual path with this version's code (module doc)."""
    from ingest.windows import WindowOptions
    from pipeline.impersonation import ImpersonationOptions, VisualOptions
    from vision.appearances import WatchOptions
    from vision.ocr import OcrOptions
    from vision.tracking import TrackOptions

    faces = ImpersonationOptions(track=TrackOptions(max_gap_s=3.0), rejoin_s=0.0,
                                 watch=WatchOptions(min_face_px=40, full_every_s=0.0, changed_only=False,
                                                    describe_every_s=0.0, same_look=0.0))
    ocr = OcrOptions(det_height=736, use_cls=True, gate=False)
    return WindowOptions(frame_height=360), VisualOptions(impersonation=faces, ocr=ocr)


def _visual_path(path: Path, window_opts, opts, gallery, analyzer, reader) -> dict:
    """Faces and OCR alone over a recording's frames (decoding not timed)."""
    from ingest.windows import iter_file_windows
    from pipeline.impersonation import iter_frames
    from vision.ocr import ScreenWatch

    frames = list(iter_frames(iter_file_windows(path, opts=replace(window_opts, max_s=10.0, min_s=5.0))))
    duration = frames[-1].t - frames[0].t + 1.0 if frames else 0.0
    watch = opts.impersonation.face_watch(analyzer)
    t = time.perf_counter()
    for f in frames:
        watch.update(f.t, f.image)
    watch.finish()
    face_s = time.perf_counter() - t
    screen = ScreenWatch(reader.with_options(opts.ocr))
    next_t, readings = None, 0
    t = time.perf_counter()
    for f in frames:
        if next_t is None or f.t >= next_t - 1e-6:
            next_t = f.t + opts.ocr.interval_s
            screen.read(f.t, f.image)
            readings += 1
    ocr_s = time.perf_counter() - t
    return {"frames": len(frames), "frame_size": list(frames[0].image.shape[:2]) if frames else None,
            "faces_s": round(face_s, 2), "faces_fps": round(len(frames) / face_s, 2) if face_s else None,
            "faces_rtf": round(face_s / duration, 3) if duration else None,
            "faces_searched_share": round(watch.stats.searched_share, 3), "faces_described": watch.stats.described,
            "ocr_readings": readings, "ocr_s": round(ocr_s, 2),
            "ocr_rtf": round(ocr_s / duration, 3) if duration else None,
            "ocr_recognised": screen.stats.recognised, "ocr_full": screen.stats.full,
            "visual_rtf": round((face_s + ocr_s) / duration, 3) if duration else None}


def _scan_time(path: Path, transcriber, detector, window_opts, visual) -> tuple[float, list]:
    from pipeline.scan import scan_file

    t = time.perf_counter()
    scan = scan_file(path, transcriber, detector, window_opts, visual=visual)
    if scan.errors:
        from liveguard.errors import LiveGuardError

        raise LiveGuardError(f"bench scan failed: {scan.errors}")
    return time.perf_counter() - t, scan.findings


def bench_rooms(heights: list[int], duration: float = 60.0, scans: bool = True, model: str = "whisper-base",
                log=print) -> dict:
    from claims.defaults import make_detector
    from ingest.windows import WindowOptions
    from pipeline.impersonation import VisualChecker, VisualOptions
    from vision.faces import FaceAnalyzer
    from vision.gallery import Gallery, enrol_face
    from vision.ocr import ScreenReader

    from skimage import data

    analyzer = FaceAnalyzer()
    reader = ScreenReader()
    analyzer.embedder  # noqa: B018 - models load outside the timings
    reader._engine  # noqa: B018
    gallery = Gallery()
    gallery.add("Eileen Collins", face_prints=enrol_face(analyzer, data.astronaut()))
    legacy_windows, legacy = _legacy_visual()
    after = VisualOptions()
    transcriber = detector = None
    if scans:
        from asr import AsrOptions, Transcriber, load_whisper

        transcriber = Transcriber(load_whisper(model, None, engine="auto"), AsrOptions(batch_size=8))
        detector = make_detector("combined")
    result = {"duration_s": duration, "rooms": {}}
    with tempfile.TemporaryDirectory(prefix="liveguard-bench-vision-") as tmp:
        for h in heights:
            w = h * 16 // 9
            room_dir = Path(tmp) / f"{h}p"
            room_dir.mkdir()
            log(f"{h}p: making a {duration:.0f}-s room")
            path = make_room(room_dir / "room.mp4", w, h, duration, analyzer, log)
            row = {"before": _visual_path(path, legacy_windows, legacy, gallery, analyzer, reader),
                   "after": _visual_path(path, WindowOptions(), after, gallery, analyzer, reader)}
            log(f"{h}p visual path: {row}")
            if scans:
                def checker(opts):
                    return lambda source: VisualChecker(source, "bench_shop", gallery, detector=detector,
                                                        analyzer=analyzer, reader=reader.with_options(opts.ocr), opts=opts)

                plain, _ = _scan_time(path, transcriber, detector, WindowOptions(), None)
                new, found_new = _scan_time(path, transcriber, detector, WindowOptions(), checker(after))
                old, found_old = _scan_time(path, transcriber, detector, legacy_windows, checker(legacy))
                plain2, _ = _scan_time(path, transcriber, detector, WindowOptions(), None)
                base = (plain + plain2) / 2
                row["scan"] = {"plain_s": round(base, 2), "plain_runs_s": [round(plain, 2), round(plain2, 2)],
                               "gallery_ocr_before_s": round(old, 2), "gallery_ocr_after_s": round(new, 2),
                               "ratio_before": round(old / base, 2), "ratio_after": round(new / base, 2),
                               "face_findings_before": sum(f.label == "ai_impersonation" for f in found_old),
                               "face_findings_after": sum(f.label == "ai_impersonation" for f in found_new)}
                log(f"{h}p scans: {row['scan']}")
            result["rooms"][f"{h}p"] = row
    return result


def format_rooms(res: dict) -> str:
    lines = [f"visual checks on {res['duration_s']:.0f}-s live rooms (faces + OCR alone; rtf = CPU-bound seconds "
             f"per stream second, lower is better)",
             "room   version  frames  faces f/s  faces rtf  searched  OCR rtf  recognised  visual rtf"]
    for name, row in res["rooms"].items():
        for ver in ("before", "after"):
            r = row[ver]
            lines.append(f"{name:6s} {ver:7s}  {r['frames']:6d}  {r['faces_fps']:9.2f}  {r['faces_rtf']:9.3f}  "
                         f"{r['faces_searched_share']:8.0%}  {r['ocr_rtf']:7.3f}  {r['ocr_recognised']:10d}  "
                         f"{r['visual_rtf']:10.3f}")
    scans = [(n, r["scan"]) for n, r in res["rooms"].items() if "scan" in r]
    if scans:
        lines += ["", "whole scans (ASR included), wall seconds; ratio to the plain scan (mean of one run before "
                  "and one after)",
                  "room   plain  --gallery --ocr before (ratio)  after (ratio)  face findings before/after"]
        for name, s in scans:
            lines.append(f"{name:6s} {s['plain_s']:5.1f}  {s['gallery_ocr_before_s']:6.1f} ({s['ratio_before']:.2f}x)"
                         f"{'':15s}{s['gallery_ocr_after_s']:6.1f} ({s['ratio_after']:.2f}x)  "
                         f"{s['face_findings_before']}/{s['face_findings_after']}")
    return "\n".join(lines)


# --- live: N monitors' visual checks at once ---------------------------------------------------------


def _timed_monitor():
    """RayMonitor that records, for every window's visual check, how long after the window's last
    frame was live (stream start wall clock + window end) its findings were back at the driver."""
    from pipeline.ray_monitor import RayMonitor

    class TimedMonitor(RayMonitor):
        def start(self) -> None:
            self.visual_lags: dict[str, list[float]] = {}
            self._fed: dict[object, tuple[str, float]] = {}
            super().start()

        def _feed_visual(self, sid: str, windows: list) -> None:
            before = set(self.visual_inflight)
            super()._feed_visual(sid, windows)
            # windows are fed in order until the stream's backlog is full; the rest are skipped
            new = [ref for ref in self.visual_inflight if ref not in before]
            self._fed.update({ref: (sid, w.t1) for ref, w in zip(new, windows)})

        def _collect_visual(self, wait: bool = False) -> None:
            before = list(self.visual_inflight)
            super()._collect_visual(wait)
            now = time.time()
            for ref in before:
                if ref not in self.visual_inflight and ref in self._fed:
                    sid, t1 = self._fed.pop(ref)
                    snap = self.snapshots.get(sid)
                    if snap is not None and snap.start_wall is not None:
                        self.visual_lags.setdefault(sid, []).append(now - (snap.start_wall + t1))

    return TimedMonitor


def _live_trial(room: Path, gallery_path: Path, streams: int, work: Path, model: str) -> dict:
    import os

    from liveguard.monitor_cli import VisualCheckers
    from pipeline.bench_live import DELAY_BOUND_S, _percentile
    from pipeline.live import MonitorOptions
    from pipeline.ray_monitor import StreamSpec

    values = {"gallery": str(gallery_path), "ocr": True, "account": "bench_shop", "min_face_px": 40, "live": True,
              "claims": "combined", "claims_model": None, "listing": None}
    ids = [f"s{i + 1}" for i in range(streams)]
    visual = VisualCheckers({sid: dict(values) for sid in ids}, defaults=values)
    labels: dict[str, int] = {}

    def count(rec: dict) -> None:
        if rec.get("type") == "finding":
            labels[rec["label"]] = labels.get(rec["label"], 0) + 1

    mon = _timed_monitor()([StreamSpec(sid, str(room)) for sid in ids], work, MonitorOptions(), model=model,
                           visual=visual, on_record=count)
    load = os.getloadavg()[0]
    mon.start()
    t = time.time()
    try:
        mon.run()
    finally:
        mon.stop()
    wall = time.time() - t
    lags = [x for v in mon.visual_lags.values() for x in v]
    asr = [d for ds in mon.processor.delays.values() for d in ds]
    vis = [d for ds in mon.processor.visual_delays.values() for d in ds]
    skipped = sum(mon.visual_skipped.values())
    p95 = _percentile(lags, 0.95)

    def r(x: float) -> float | None:
        return None if x != x else round(x, 2)  # NaN (no value) is not JSON

    return {"streams": streams, "wall_s": round(wall, 1), "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "visual_windows": len(lags), "visual_windows_skipped": skipped,
            "visual_lag_p50_s": r(_percentile(lags, 0.5)), "visual_lag_p95_s": r(p95),
            "visual_lag_max_s": r(max(lags, default=float("nan"))),
            "visual_findings": len(vis), "visual_finding_delay_p95_s": r(_percentile(vis, 0.95)),
            "asr_findings": len(asr), "asr_delay_p95_s": r(_percentile(asr, 0.95)),
            "findings_by_label": labels, "dropped_windows": sum(s.dropped for s in mon.snapshots.values()),
            "keeps_up": bool(lags) and p95 < DELAY_BOUND_S and not skipped
            and sum(s.dropped for s in mon.snapshots.values()) == 0}


def bench_live_rooms(heights: list[int], streams: int, duration: float = 60.0, model: str = "whisper-base",
                     log=print) -> dict:
    """`bench vision --live N`: N copies of the room played in real time through `monitor` (Ray
    ingest, batched ASR, one visual actor per stream with the gallery and OCR, as `monitor
    --gallery --ocr`). Keeps up: visual findings back within DELAY_BOUND_S of their window's end
    (p95), no window of frames skipped, no audio dropped."""
    import os

    import ray
    from skimage import data

    from vision.faces import FaceAnalyzer
    from vision.gallery import Gallery, enrol_face

    analyzer = FaceAnalyzer()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    result = {"duration_s": duration, "streams": streams, "cpus": os.cpu_count(), "load_at_start": os.getloadavg()[0],
              "rooms": {}}
    with tempfile.TemporaryDirectory(prefix="liveguard-bench-vision-live-") as tmp:
        gallery = Gallery(Path(tmp) / "gallery.json")
        gallery.add("Eileen Collins", face_prints=enrol_face(analyzer, data.astronaut()))
        gallery.save()
        for h in heights:
            room_dir = Path(tmp) / f"{h}p"
            room_dir.mkdir()
            log(f"{h}p: making a {duration:.0f}-s room")
            room = make_room(room_dir / "room.mp4", h * 16 // 9, h, duration, analyzer, log)
            log(f"{h}p: {streams} live streams with visual checks")
            work = room_dir / "monitor"
            work.mkdir()
            result["rooms"][f"{h}p"] = row = _live_trial(room, gallery.path, streams, work, model)
            log(f"{h}p live: {row}")
    return result


def format_live_rooms(res: dict) -> str:
    lines = [f"{res['streams']} live {res['duration_s']:.0f}-s rooms at once (monitor --gallery --ocr); visual lag = "
             "findings of a window back at the driver, seconds after the window's last frame was live",
             "room   windows  skipped  lag p50  lag p95  lag max  visual findings (p95 delay)  ASR findings (p95 delay)"
             "  dropped  load  keeps up"]

    def f(x):
        return "-" if x is None else f"{x:.1f}"

    for name, r in res["rooms"].items():
        lines.append(f"{name:6s} {r['visual_windows']:7d}  {r['visual_windows_skipped']:7d}  "
                     f"{f(r['visual_lag_p50_s']):>7s}  {f(r['visual_lag_p95_s']):>7s}  {f(r['visual_lag_max_s']):>7s}  {r['visual_findings']:15d} "
                     f"({f(r['visual_finding_delay_p95_s'])} s)  {r['asr_findings']:13d} ({f(r['asr_delay_p95_s'])} s)"
                     f"  {r['dropped_windows']:7d}  {r['load_before']:.1f}  {'yes' if r['keeps_up'] else 'no'}")
    lines.append("findings by label: " + "; ".join(f"{n} {r['findings_by_label']}" for n, r in res["rooms"].items()))
    return "\n".join(lines)
