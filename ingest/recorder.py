"""Rolling on-disk recording of a live stream, and evidence clips cut from it.

Packets are remuxed, not re-encoded, into MPEG-TS segments of about `segment_s` seconds, each
starting on a video keyframe so it decodes on its own. Segment names carry the recorder's run id,
so a monitor restarted on the same directory never overwrites the last run's recording, and the
index of earlier runs is read back: clips still owed from before a crash are cut from it. MPEG-TS because its segments join by
plain concatenation with their timestamps continuous (live-commerce streams are H.264/H.265 with
AAC, which TS carries); codecs TS cannot carry go to Matroska segments instead. Every segment
knows its span in stream time. `cut_clip(t0, t1)` joins the segments that cover the span and
remuxes the clip from the keyframe at or before t0 (no re-encoding: about 20x cheaper, which keeps
clip cutting off the live path's critical CPU; it falls back to re-encoding where the codecs
cannot go into MP4 as they are). Segments
older than `retention_s` are deleted; clips are separate files and stay until the review
service decides otherwise.
"""

from __future__ import annotations

import json
import math
import logging
import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import av

from ingest.decode import probe
from liveguard.errors import LiveGuardError, MediaError

__all__ = ["RecorderOptions", "Segment", "Timeline", "StreamRecorder", "ClipError", "read_index", "cut_clip", "clip_span",
           "new_run_id"]

log = logging.getLogger(__name__)


class ClipError(MediaError):
    """A clip could not be cut: the span is no longer (or not yet) in the recording, or FFmpeg failed."""


@dataclass(frozen=True)
class RecorderOptions:
    segment_s: float = 10.0  # target segment length; segments close on the next keyframe after it
    retention_s: float = 600.0  # segments older than this (in stream time) are deleted


@dataclass
class Segment:
    path: str
    session: int  # connection number: segments of one session join without holes
    t0: float  # stream time of the first packet
    t1: float  # stream time just past the last packet
    run: str = ""  # the recorder run (monitor process) that wrote it


def new_run_id() -> str:
    """Unique per recorder run and sortable: UTC time and process id."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"p{os.getpid()}"


def read_index(directory: str | Path) -> list[Segment]:
    """The segments of every run recorded in `directory` whose files still exist, in stream time
    order (a torn last line, as a crash leaves it, is skipped). A segment that was still open when
    its run was killed is listed only by the line written when it was opened (its end unknown):
    its end is read from the file, which holds everything muxed up to the kill."""
    index = Path(directory) / "index.jsonl"
    if not index.exists():
        return []
    seen: dict[str, Segment] = {}
    for line in index.read_text(errors="replace").splitlines():
        try:
            seg = Segment(**json.loads(line))
        except (ValueError, TypeError):
            continue
        if Path(seg.path).exists():
            seen[seg.path] = seg
    for seg in [s for s in seen.values() if s.t1 <= s.t0]:
        held = _contents(Path(seg.path))[2]
        if held > 0:
            seg.t1 = seg.t0 + held
        else:
            del seen[seg.path]
    return sorted(seen.values(), key=lambda s: (s.t0, s.t1))


class Timeline:
    """Maps one connection's media times onto stream time; shared by the decoder and the recorder."""

    def __init__(self, offset: float):
        self.offset = offset
        self.first: float | None = None

    def __call__(self, media_t: float) -> float:
        if self.first is None:
            self.first = media_t
        return self.offset + media_t - self.first


class StreamRecorder:
    """Owns a directory of segments for one stream. `sink(timeline)` gives a PacketSink per connection."""

    def __init__(self, directory: str | Path, opts: RecorderOptions = RecorderOptions(), run: str | None = None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.opts = opts
        self.run = run or new_run_id()
        self.segments: list[Segment] = read_index(self.dir)  # earlier runs' segments stay cuttable
        self._lock = threading.Lock()  # the ingest thread writes, clip requests read
        self._sessions = 0

    def sink(self, timeline: Timeline) -> _SegmentSink:
        self._sessions += 1
        return _SegmentSink(self, self._sessions, timeline)

    def _add(self, seg: Segment) -> None:
        with self._lock:
            self.segments.append(seg)
            self._append_index(seg)
            horizon = seg.t1 - self.opts.retention_s
            keep = [s for s in self.segments if s.t1 >= horizon]
            for old in self.segments[: len(self.segments) - len(keep)]:
                Path(old.path).unlink(missing_ok=True)
            self.segments = keep

    def _opened(self, seg: Segment) -> None:
        """List a segment as soon as it is opened (end = start): if this process is killed, the
        next run still finds the file and reads its end from it (read_index)."""
        with self._lock:
            self._append_index(seg)

    def _append_index(self, seg: Segment) -> None:
        """One line of index.jsonl (the caller holds the lock); read_index keeps a path's last line."""
        with open(self.dir / "index.jsonl", "a") as f:
            f.write(json.dumps(asdict(seg)) + "\n")

    def covered(self) -> tuple[float, float] | None:
        with self._lock:
            return (self.segments[0].t0, self.segments[-1].t1) if self.segments else None

    def cut_clip(self, t0: float, t1: float, out: str | Path) -> Path:
        """Write [t0, t1] (stream seconds) to `out` as MP4. Raises ClipError."""
        with self._lock:
            segments = list(self.segments)
        return cut_clip(segments, t0, t1, out)


def cut_clip(segments: list[Segment], t0: float, t1: float, out: str | Path, reencode: bool = False) -> Path:
    """Write [t0, t1] (stream seconds) of a recording (`segments`, e.g. from read_index) to `out`
    as MP4, remuxed from the keyframe at or before t0 (`reencode`: cut on the exact second, as
    H.264/AAC). Raises ClipError."""
    overlapping = [s for s in segments if s.t0 < t1 and t0 < s.t1]
    if not overlapping:
        span = (segments[0].t0, segments[-1].t1) if segments else None
        raise ClipError(f"[{t0:.1f}, {t1:.1f}] s is not in the recording (covered: {span})")
    # A clip that spans a reconnect is cut from the session holding most of it.
    by_session: dict[tuple[str, int], list[Segment]] = {}
    for s in overlapping:
        by_session.setdefault((s.run, s.session), []).append(s)
    segs = max(by_session.values(), key=lambda ss: sum(min(s.t1, t1) - max(s.t0, t0) for s in ss))
    start = max(t0, segs[0].t0)
    end = min(t1, segs[-1].t1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    listing = out.with_suffix(".concat.txt")
    if all(s.path.endswith(".ts") for s in segs):  # byte-concatenated TS keeps one continuous timeline
        source = ["-i", "concat:" + "|".join(str(Path(s.path).resolve()) for s in segs)]
    else:
        listing.write_text("".join(f"file '{Path(s.path).resolve()}'\n" for s in segs))
        source = ["-f", "concat", "-safe", "0", "-i", str(listing)]
    seek = ["-ss", f"{start - segs[0].t0:.3f}", "-t", f"{end - start:.3f}"]
    copy = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *seek[:2], *source, *seek[2:], "-c", "copy",
            "-avoid_negative_ts", "make_zero", "-movflags", "+faststart", str(out)]
    # Seeking inside joined TS segments can land past the only keyframe (sparse GOPs) and drop the
    # picture; the segments themselves start on keyframes, so remuxing from the first one's start
    # always holds it, with up to one segment of lead.
    from_segment = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *source, "-t", f"{end - segs[0].t0:.3f}",
                    "-c", "copy", "-avoid_negative_ts", "make_zero", "-movflags", "+faststart", str(out)]
    want = _contents(Path(segs[0].path))
    encode = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *source, *seek,
              "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p",
              "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", str(out)]
    tmp = out.with_name(out.stem + ".part" + out.suffix)  # a clip appears whole or not at all
    try:
        tries = [("encode", encode)] if reencode else [("remux", copy), ("remux from segment", from_segment),
                                                       ("encode", encode)]
        for how, cmd in tries:
            cmd = cmd[:-1] + [str(tmp)]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ClipError(f"ffmpeg could not cut {out.name}: {exc}") from exc
            if proc.returncode == 0 and tmp.exists() and tmp.stat().st_size > 0:
                got = _contents(tmp)
                if got[:2] == want[:2] and got[2] >= end - start - 0.5:  # same streams, whole span
                    # every way of cutting ends the clip at `end`; a remux starts it at a keyframe
                    # before `start`, so its start is read back from its length
                    clip_t0 = start if how == "encode" else max(segs[0].t0, end - got[2])
                    _write_span(out, clip_t0, end)
                    tmp.replace(out)
                    return out
                log.info("clip %s: %s gave %s, expected %s", out.name, how, got, want)
                continue
            log.info("clip %s: %s failed (%s)", out.name, how, proc.stderr.strip()[-200:])
        raise ClipError(f"ffmpeg failed cutting {out.name} ({proc.returncode}): {proc.stderr.strip()[-800:]}")
    finally:
        listing.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def _span_file(clip: Path) -> Path:
    return clip.with_name(clip.name + ".json")


def _write_span(clip: Path, t0: float, t1: float) -> None:
    part = _span_file(clip).with_suffix(".part")
    part.write_text(json.dumps({"stream_t0": round(t0, 3), "stream_t1": round(t1, 3)}))
    part.replace(_span_file(clip))


def clip_span(clip: str | Path) -> tuple[float, float] | None:
    """(start, end) in stream seconds of a clip `cut_clip` wrote, from the file beside it, so a
    player can open the clip at the claim; None for a clip from elsewhere or an unreadable note."""
    try:
        d = json.loads(_span_file(Path(clip)).read_text())
        t0, t1 = float(d["stream_t0"]), float(d["stream_t1"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (t0, t1) if math.isfinite(t0) and math.isfinite(t1) and t0 <= t1 else None


def _contents(path: Path) -> tuple[bool, bool, float]:
    """(has video, has audio, duration s) of a media file; (False, False, 0) if it cannot be read."""
    try:
        info = probe(path)
    except MediaError:
        return False, False, 0.0
    return info.has_video, info.has_audio, info.duration_s or 0.0


class _SegmentSink:
    """PacketSink for one connection: remuxes packets into rotating segment files."""

    def __init__(self, recorder: StreamRecorder, session: int, timeline: Timeline):
        self.rec = recorder
        self.session = session
        self.timeline = timeline
        self.inputs: list = []
        self.out = None
        self.map: dict[int, av.stream.Stream] = {}
        self.seg: Segment | None = None
        self.count = 0
        self.has_video = False
        self.fmt: str | None = None  # chosen on the first segment, kept for the session
        self.ext = ""

    def open(self, streams: list) -> None:
        self.inputs = streams
        self.has_video = any(s.type == "video" for s in streams)

    def _start_segment(self, t: float) -> None:
        self._finish()
        self.count += 1
        self.out = None
        for fmt, ext in ((self.fmt, self.ext),) if self.fmt else (("mpegts", "ts"), ("matroska", "mkv")):
            path = self.rec.dir / f"{self.rec.run}_s{self.session:04d}_{self.count:05d}.{ext}"
            out = None
            try:
                out = av.open(str(path), mode="w", format=fmt)
                self.map = {s.index: out.add_stream_from_template(s) for s in self.inputs}
                out.start_encoding()  # writes the header now: a codec the format cannot carry fails here
            except (av.error.FFmpegError, ValueError) as exc:
                log.info("recorder: %s cannot hold these streams (%s)", fmt, exc)
                if out is not None:
                    out.close()
                path.unlink(missing_ok=True)
                continue
            self.out, self.fmt, self.ext = out, fmt, ext
            break
        if self.out is None:
            log.warning("recorder: no container can hold the streams of session %d", self.session)
            return
        self.seg = Segment(str(path), self.session, t, t, self.rec.run)
        self.rec._opened(self.seg)

    def write(self, packet: av.Packet) -> None:
        if packet.pts is None or packet.dts is None or packet.time_base is None:
            return
        start = packet.stream.container.start_time
        t = self.timeline(float(packet.pts * packet.time_base) - (start / av.time_base if start else 0.0))
        keyframe = packet.is_keyframe if packet.stream.type == "video" else not self.has_video
        if self.out is None or (keyframe and t - self.seg.t0 >= self.rec.opts.segment_s):
            if self.out is not None or keyframe or not self.has_video:
                self._start_segment(t)
            if self.out is None:
                return  # wait for the first keyframe: a segment must decode on its own
        src = packet.stream
        packet.stream = self.map[src.index]
        try:
            self.out.mux(packet)
        except (av.error.FFmpegError, ValueError) as exc:  # one bad packet must not stop the recording
            log.debug("recorder: dropped a packet: %s", exc)
        finally:
            packet.stream = src
        dur = float(packet.duration * packet.time_base) if packet.duration else 0.0
        self.seg.t1 = max(self.seg.t1, t + dur)

    def _finish(self) -> None:
        if self.out is None:
            return
        try:
            self.out.close()
        except (av.error.FFmpegError, OSError) as exc:
            log.warning("recorder: closing %s: %s", self.seg.path, exc)
        if self.seg.t1 > self.seg.t0:
            self.rec._add(self.seg)
        self.out, self.seg = None, None

    def close(self) -> None:
        try:
            self._finish()
        except LiveGuardError:
            pass
