"""Cutting decoded media into aligned windows of audio and frames.

A window is at most `max_s` seconds (Whisper's 30 s context by default). Cutting at a fixed
length would split words at the seam, so each cut is moved to the quietest 100 ms between
`min_s` and `max_s`: plain signal energy, no model, so this stage stays model-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.decode import SAMPLE_RATE, AudioBlock, DecodeStats, VideoFrame, decode_media

__all__ = ["Window", "WindowOptions", "StreamBreak", "cut_windows", "iter_file_windows"]

QUIET_HOP = SAMPLE_RATE // 10  # 100 ms energy frames when looking for a cut point
LATE_FRAME_S = 2.0  # how much further the audio may run before a window stops waiting for frames


@dataclass(frozen=True)
class WindowOptions:
    max_s: float = 30.0  # longest window; Whisper sees at most 30 s at once
    min_s: float = 20.0  # shortest window unless the stream ends; the cut is searched in [min_s, max_s]
    frame_fps: float = 1.0  # frames kept per second of video for the vision stage (0: none)
    # frames taller than this are scaled down to it: faces and text are found in source pixels up to
    # 1080p (a 40 px face in 720p was 20 px after the old 360 and never found; docs/vision.md)
    frame_height: int = 1080

    def __post_init__(self):
        if not 0 < self.min_s <= self.max_s <= 30.0:
            raise ValueError(f"need 0 < min_s <= max_s <= 30, got min_s={self.min_s}, max_s={self.max_s}")
        if self.frame_fps < 0:
            raise ValueError(f"frame_fps must be >= 0, got {self.frame_fps}")


@dataclass
class Window:
    stream_id: str
    index: int
    t0: float  # stream seconds of audio[0]
    audio: np.ndarray  # float32 mono at 16 kHz
    frames: list[VideoFrame] = field(default_factory=list)
    recovered: bool = False  # read back from the recording after a crash, not heard live

    @property
    def t1(self) -> float:
        return self.t0 + len(self.audio) / SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def _quiet_cut(audio: np.ndarray, lo: int, hi: int) -> int:
    """Sample index in [lo, hi] at the centre of the lowest-energy 100 ms frame."""
    region = audio[lo:hi]
    n = len(region) // QUIET_HOP
    if n == 0:
        return hi
    energy = np.square(region[: n * QUIET_HOP]).reshape(n, QUIET_HOP).mean(axis=1)
    return lo + int(np.argmin(energy)) * QUIET_HOP + QUIET_HOP // 2


@dataclass(frozen=True)
class StreamBreak:
    """A live source stopped delivering at stream time `t` (a drop or stall; it may come back).
    The audio held so far becomes a window at once: a claim spoken just before a drop is
    checked now, not when (or if) the source returns."""
    t: float


def cut_windows(items: Iterable[AudioBlock | VideoFrame | StreamBreak], stream_id: str,
                opts: WindowOptions = WindowOptions()) -> Iterator[Window]:
    """Group decoded blocks and frames into windows; gaps in the audio are filled with silence.

    Video frames often come out of the decoder a little after the audio of the same instant
    (interleaving, B-frame reordering, frame threads), so a cut window is held back until a frame
    past its end has arrived or the audio has run LATE_FRAME_S beyond it. Each window gets exactly
    the frames with t0 <= t < t1.
    """
    max_n, min_n = int(opts.max_s * SAMPLE_RATE), int(opts.min_s * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    pending_n = 0
    t0: float | None = None
    frames: list[VideoFrame] = []
    held: list[Window] = []  # cut, waiting for their last frames
    index = 0

    def cut(n: int) -> None:
        nonlocal pending, pending_n, t0, index
        buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
        win = Window(stream_id, index, t0, buf[:n].copy())
        rest = buf[n:]
        pending, pending_n = ([rest], len(rest)) if len(rest) else ([], 0)
        t0 = win.t1
        index += 1
        held.append(win)

    def release(final: bool) -> Iterator[Window]:
        nonlocal frames
        audio_end = t0 + pending_n / SAMPLE_RATE if t0 is not None else 0.0
        while held:
            win = held[0]
            if not (final or audio_end - win.t1 >= LATE_FRAME_S or any(f.t >= win.t1 for f in frames)):
                return
            held.pop(0)
            win.frames = [f for f in frames if win.t0 <= f.t < win.t1]  # earlier ones came too late
            frames = [f for f in frames if f.t >= win.t1]
            yield win

    for item in items:
        if isinstance(item, VideoFrame):
            frames.append(item)
            yield from release(False)
            continue
        if isinstance(item, StreamBreak):
            if pending_n:
                cut(pending_n)
            yield from release(True)
            t0 = None  # the next window starts with the next audio: no silence is made up for the hole
            continue
        if t0 is None:
            t0 = item.t0
        expected = t0 + pending_n / SAMPLE_RATE
        gap = int(round((item.t0 - expected) * SAMPLE_RATE))
        if gap > QUIET_HOP:  # a hole in the audio (lost packets): keep stream time honest
            pending.append(np.zeros(gap, np.float32))
            pending_n += gap
        pending.append(item.samples)
        pending_n += len(item.samples)
        while pending_n >= max_n:
            buf = np.concatenate(pending)
            pending = [buf]
            cut(_quiet_cut(buf, min_n, max_n))
        yield from release(False)
    if pending_n:
        cut(pending_n)
    yield from release(True)


def iter_file_windows(path: str | Path, stream_id: str | None = None, opts: WindowOptions = WindowOptions(),
                      stats: DecodeStats | None = None) -> Iterator[Window]:
    """Windows of a recorded file, decoded lazily so hours-long files use bounded memory."""
    items = decode_media(path, frame_fps=opts.frame_fps, frame_height=opts.frame_height, stats=stats)
    yield from cut_windows(items, stream_id or str(path), opts)
