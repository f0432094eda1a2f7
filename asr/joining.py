"""What Whisper hears: chunks of speech with a map back to stream time.

Whisper pays a full 30-s encoder pass per input however little speech it holds, and on the CPU
that pass is two thirds of the cost. A window is cut at a quiet point 20-30 s into the stream and
holds pauses, so one window per input leaves inputs a quarter empty, and a long recording needs
~1.7x the encoder passes of a pipeline that fills its inputs with speech.

`join_windows` lays the speech of consecutive windows of one stream end to end into inputs of up
to 30 s: pauses up to `keep_s` stay as they were (Whisper hears the rhythm of the speech), longer
ones become `gap_s` of silence (636 s of speech under music, `liveguard bench scan`'s recording: one
input per window took 27 + 3 continuation passes, WER 7.6%; joined, 19 + 2, WER 6.4%; clean: 5.0%). Each chunk carries `knots`, the points where its samples jump in stream time,
so every timestamp Whisper writes maps back to the recording, and `windows`, the stretch of the
input each window's speech fills, so the engine checks each window's language on its own stretch
of the shared encoder output before decoding them as one (see CT2Whisper.decode_packed).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ingest.decode import SAMPLE_RATE
from ingest.windows import Window

__all__ = ["SpeechChunk", "prepare_chunk", "join_windows", "joined_seconds", "JOIN_GAP_S", "KEEP_GAP_S"]

KEEP_GAP_S = 1.0  # pauses up to this long are kept as they sound; longer ones are silenced (and shortened)
# a longer pause becomes this much silence in a joined input; Whisper still closes a segment there.
# Measured on 636 s under music: 1.0 s -> 22 passes, WER 6.9%; 0.5 s -> 21, 6.4%; 0.3 s -> 22, 6.3%.
JOIN_GAP_S = 0.5
MAX_INPUT_S = 30.0  # Whisper's input length


@dataclass
class SpeechChunk:
    stream_id: str
    audio: np.ndarray  # float32 16 kHz: what Whisper hears
    spans: list[tuple[int, int]]  # VAD speech, chunk samples
    knots: list[tuple[int, float]]  # (chunk sample, stream seconds) in order: from each on, time runs with the samples
    windows: list[tuple[int, float, float]]  # (window row, start s, end s): each window's speech in the chunk

    def stream_time(self, s: float, end: bool = False) -> float:
        """Stream seconds of chunk second `s`. A time exactly on a knot belongs to what follows it,
        or, for the end of a segment (`end`), to what comes before it."""
        x = s * SAMPLE_RATE
        at = [a for a, _ in self.knots]
        k = max(0, (bisect_left(at, x) if end else bisect_right(at, x)) - 1)
        a, t = self.knots[k]
        return t + (x - a) / SAMPLE_RATE

    def part(self, a: int, b: int | None = None) -> SpeechChunk:
        """Samples [a, b) of the chunk, with their map, speech and windows."""
        b = len(self.audio) if b is None else b
        knots = [(0, self.stream_time(a / SAMPLE_RATE))] + [(x - a, t) for x, t in self.knots if a < x < b]
        spans = [(max(s, a) - a, min(e, b) - a) for s, e in self.spans if s < b and e > a]
        lo, hi = a / SAMPLE_RATE, b / SAMPLE_RATE
        windows = [(row, max(s, lo) - lo, min(e, hi) - lo) for row, s, e in self.windows if s < hi and e > lo]
        return SpeechChunk(self.stream_id, self.audio[a:b], spans, knots, windows)


def prepare_chunk(window: Window, spans: list[tuple[int, int]], row: int = 0) -> SpeechChunk | None:
    """One window's chunk: the part from its first to its last word (plus padding), with long
    non-speech stretches inside it zeroed so Whisper has nothing to invent from; None without speech."""
    if not spans:
        return None
    start, end = spans[0][0], spans[-1][1]
    audio = window.audio[start:end].copy()
    gap = int(KEEP_GAP_S * SAMPLE_RATE)
    rel = [(s - start, e - start) for s, e in spans]
    for (_, prev_end), (next_start, _) in zip(rel, rel[1:]):
        if next_start - prev_end > gap:
            audio[prev_end:next_start] = 0.0
    return SpeechChunk(window.stream_id, audio, rel, [(0, window.t0 + start / SAMPLE_RATE)],
                       [(row, 0.0, len(audio) / SAMPLE_RATE)])


def joined_seconds(spans: Sequence[tuple[int, int]], keep_s: float = KEEP_GAP_S, gap_s: float = JOIN_GAP_S) -> float:
    """How much input one window's speech fills once joined (for sizing batches)."""
    if not spans:
        return 0.0
    n = sum(e - s for s, e in spans)
    for (_, prev_end), (next_start, _) in zip(spans, spans[1:]):
        pause = next_start - prev_end
        n += pause if pause <= keep_s * SAMPLE_RATE else int(gap_s * SAMPLE_RATE)
    return n / SAMPLE_RATE + gap_s


@dataclass
class _Stretch:
    """Speech of one stream, contiguous in stream time: [t0, t0 + len(audio))."""
    t0: float
    audio: np.ndarray
    spans: list[tuple[int, int]]  # VAD speech, stretch samples
    rows: list[tuple[int, int, int]]  # (window row, first, last sample) inside the stretch


def _stretches(items: list[tuple[int, Window, list[tuple[int, int]]]], keep: int, max_n: int) -> list[_Stretch]:
    """Each window's speech as stretches separated by pauses longer than `keep` samples; a stretch
    runs on into the next window when the stream does (windows are cut at quiet points, which need
    not be pauses), up to `max_n` samples."""
    out: list[_Stretch] = []
    prev: tuple[Window, int] | None = None  # the window of the last span and where that span ended
    for row, window, spans in items:
        for s, e in spans:
            bridge = None  # the audio between the last span and this one, when it is the stream's own
            if prev is not None:
                prev_window, prev_end = prev
                if prev_window is window:
                    bridge = window.audio[prev_end:s]
                elif abs(window.t0 - prev_window.t1) * SAMPLE_RATE < 2:  # the very next window, no hole
                    bridge = np.concatenate([prev_window.audio[prev_end:], window.audio[:s]])
            last = out[-1] if out else None
            if last is not None and bridge is not None and len(bridge) <= keep \
                    and len(last.audio) + len(bridge) + e - s <= max_n:
                n0 = len(last.audio) + len(bridge)
                last.audio = np.concatenate([last.audio, bridge, window.audio[s:e]])
                last.spans.append((n0, n0 + e - s))
                _add_row(last, row, n0, n0 + e - s)
            else:
                out.append(_Stretch(window.t0 + s / SAMPLE_RATE, window.audio[s:e].copy(), [(0, e - s)],
                                    [(row, 0, e - s)]))
            prev = (window, e)
    return out


def _add_row(stretch: _Stretch, row: int, a: int, b: int) -> None:
    if stretch.rows and stretch.rows[-1][0] == row:
        r, first, _ = stretch.rows[-1]
        stretch.rows[-1] = (r, first, b)
    else:
        stretch.rows.append((row, a, b))


def join_windows(items: list[tuple[int, Window, list[tuple[int, int]]]], max_s: float = MAX_INPUT_S,
                 keep_s: float = KEEP_GAP_S, gap_s: float = JOIN_GAP_S) -> list[SpeechChunk]:
    """`items`: (row, window, VAD speech spans) in stream order, any streams. The speech of each
    stream laid end to end into chunks of at most `max_s` seconds, `gap_s` of silence between
    stretches that were further apart than `keep_s`, first come first filled."""
    max_n, keep, gap = int(max_s * SAMPLE_RATE), int(keep_s * SAMPLE_RATE), int(gap_s * SAMPLE_RATE)
    by_stream: dict[str, list] = {}
    for item in items:
        if item[2]:
            by_stream.setdefault(item[1].stream_id, []).append(item)
    chunks: list[SpeechChunk] = []
    for stream_id, stream_items in by_stream.items():
        current: SpeechChunk | None = None
        for st in _stretches(stream_items, keep, max_n):
            n = len(current.audio) if current is not None else 0
            if current is None or n + gap + len(st.audio) > max_n:
                current = SpeechChunk(stream_id, np.zeros(0, np.float32), [], [], [])
                chunks.append(current)
                at = 0
                pieces = [st.audio]
            else:
                at = n + gap
                # the silence's first half belongs to the speech before it, its second half to the speech after
                current.knots.append((n + gap // 2, st.t0 - (gap - gap // 2) / SAMPLE_RATE))
                pieces = [current.audio, np.zeros(gap, np.float32), st.audio]
            current.audio = np.concatenate(pieces)
            current.knots.append((at, st.t0))
            current.spans += [(at + s, at + e) for s, e in st.spans]
            for row, a, b in st.rows:
                lo, hi = (at + a) / SAMPLE_RATE, (at + b) / SAMPLE_RATE
                old = next((k for k, w in enumerate(current.windows) if w[0] == row), None)
                if old is None:
                    current.windows.append((row, lo, hi))
                else:
                    current.windows[old] = (row, current.windows[old][1], hi)
    return chunks
