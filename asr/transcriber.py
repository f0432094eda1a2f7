"""The ASR stage: windows in (from any number of streams), timed transcript segments out.

Per window: VAD finds speech; the span from the first to the last word (plus padding) becomes
one chunk, with long non-speech stretches inside it silenced so Whisper has nothing to invent
from. Chunks from consecutive windows, whatever their stream, are decoded `batch_size` at a
time. Results come back in input order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from asr.batch_decode import ChunkResult, DecodeOptions, RawSegment
from asr.chinese import is_chinese_lang, to_simplified
from asr.hallucination import GuardOptions, compression_ratio, hallucination_reason
from asr.joining import KEEP_GAP_S, SpeechChunk, join_windows, joined_seconds, prepare_chunk
from asr.types import Segment
from asr.vad import SpeechDetector, VadOptions
from asr.whisper_model import LoadedWhisper

if TYPE_CHECKING:
    from asr.ct2_engine import CT2Whisper
from ingest.decode import SAMPLE_RATE
from ingest.windows import Window

__all__ = ["AsrOptions", "WindowTranscript", "Transcriber", "prepare_chunk", "pack_chunks", "unpack_result", "tangled", "PackedInput"]

SILENCE_GAP_S = KEEP_GAP_S  # non-speech stretches longer than this inside a chunk are zeroed
MAX_CONTINUATIONS = 2  # further decoding rounds for chunks Whisper stopped short on
MIN_REST_S = 0.5  # speech shorter than this left after a stop is not worth another round
# ... in joined inputs (asr.joining), where Whisper's last timestamp often falls a few tenths early
# (whole-second timestamps are common there): 636 s under music, 9 -> 4 extra encoder passes and
# WER 7.6 -> 7.0% at 1.0 s (the short rests decoded to low-confidence single words).
MIN_JOINED_REST_S = 1.0
MAX_INPUT_S = 30.0  # Whisper's input length
LAST_INPUT_FULL = 0.75  # joined batches are cut when their last input is this full...
LAST_INPUT_WAIT = 2.0  # ... or after this many more inputs' worth of windows
PACK_GAP_S = 2.0  # silence between chunks packed into one input (at 1 s Whisper still ran sentences together)


@dataclass(frozen=True)
class AsrOptions:
    batch_size: int = 8  # chunks per Whisper call; larger = more throughput, more latency
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    vad: VadOptions = field(default_factory=VadOptions)
    guards: GuardOptions = field(default_factory=GuardOptions)
    use_vad: bool = True  # off: every window is decoded whole (for benchmarks against plain Whisper)
    pack: bool = True  # short chunks share 30-s inputs (see Transcriber._decode_all)
    # consecutive windows of one stream share 30-s inputs, their pauses shortened (asr.joining):
    # for recordings (scan). Off: one input per window, as live windows come one at a time.
    join: bool = False
    # windows read and checked by VAD this far ahead in a helper thread, so decoding the file and
    # VAD (PyAV and onnxruntime release the GIL) overlap Whisper on the other core; 0: inline
    prefetch: int = 0
    # decode each batch in a helper thread while the next is read, VAD-checked and encoded ahead
    # on the other core (scan; see Transcriber.transcribe). Off: one thing at a time, in order.
    overlap: bool = False

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.prefetch < 0:
            raise ValueError(f"prefetch must be >= 0, got {self.prefetch}")


@dataclass
class WindowTranscript:
    window: Window
    segments: list[Segment]
    speech_s: float  # seconds VAD found speech in


def _continuation(chunk: SpeechChunk, resume_at: float, min_rest_s: float = MIN_REST_S) -> SpeechChunk | None:
    """The part of `chunk` from `resume_at` seconds on, or None when no speech is left there."""
    cut = int(resume_at * SAMPLE_RATE)
    spans = [(max(s - cut, 0), e - cut) for s, e in chunk.spans if e - cut > min_rest_s * SAMPLE_RATE]
    # padding makes VAD spans end a little after the words; require real speech left, not padding
    if sum(e - s for s, e in spans) < min_rest_s * SAMPLE_RATE:
        return None
    if not spans or len(chunk.audio) - cut < min_rest_s * SAMPLE_RATE:
        return None
    rest = chunk.part(cut)
    rest.spans = spans
    return rest


def _resume(result: ChunkResult) -> float | None:
    """Chunk seconds from which the rest is undecoded: Whisper's own resume point, else the end of
    what it transcribed (checked against VAD speech by `_continuation`)."""
    if result.resume_at is not None:
        return result.resume_at
    return max((seg.end for seg in result.segments), default=0.0) or None


@dataclass
class PackedInput:
    audio: np.ndarray
    members: list[tuple[int, float, float]]  # (row, start s, end s) of each chunk inside `audio`


def pack_chunks(chunks: list[tuple[int, np.ndarray]], max_s: float = MAX_INPUT_S,
                gap_s: float = PACK_GAP_S) -> list[PackedInput]:
    """Chunks laid end to end, `gap_s` of silence apart, into inputs of at most `max_s` seconds
    (first fit, in order). The silence makes Whisper close a segment between two chunks."""
    gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)
    packs: list[PackedInput] = []
    for row, audio in chunks:
        audio = audio[: int(max_s * SAMPLE_RATE)]
        target = next((p for p in packs if (len(p.audio) + len(gap) + len(audio)) / SAMPLE_RATE <= max_s), None)
        if target is None:
            packs.append(PackedInput(audio.copy(), [(row, 0.0, len(audio) / SAMPLE_RATE)]))
            continue
        start = (len(target.audio) + len(gap)) / SAMPLE_RATE
        target.audio = np.concatenate([target.audio, gap, audio])
        target.members.append((row, start, start + len(audio) / SAMPLE_RATE))
    return packs


def unpack_result(pack: PackedInput, result: ChunkResult) -> list[tuple[int, ChunkResult, float | None]]:
    """(row, result in the row's own time, resume point) for each chunk of a packed input. A
    segment belongs to the chunk its middle falls in (the gap between chunks is split in half)."""
    resume = _resume(result)
    out = []
    for k, (row, start, end) in enumerate(pack.members):
        lo = start - PACK_GAP_S / 2 if k else float("-inf")
        hi = end + PACK_GAP_S / 2 if k + 1 < len(pack.members) else float("inf")
        mine = [RawSegment(max(0.0, seg.start - start), min(end - start, max(0.0, seg.end - start)), seg.text)
                for seg in result.segments if lo <= (seg.start + seg.end) / 2 < hi]
        # Whisper stopped inside this chunk, or before it: the rest of it (or all of it) is undecoded
        own = None if resume is None or resume >= end else max(0.0, resume - start)
        out.append((row, replace(result, segments=mine, resume_at=None), own))
    return out


def tangled(pack: PackedInput, result: ChunkResult, tolerance_s: float = 0.5) -> bool:
    """A segment that covers more than `tolerance_s` of two chunks: Whisper ran their words
    together across the silence, so the input cannot be split back by time. (Whisper's segment
    times are good to a few tenths of a second, hence the tolerance.) Also tangled: a chunk with
    no words although Whisper wrote words after it."""
    heard = [False] * len(pack.members)
    for seg in result.segments:
        covered = [min(seg.end, end) - max(seg.start, start) for _, start, end in pack.members]
        if sum(c > tolerance_s for c in covered) > 1:
            return True
        heard = [h or c > 0 for h, c in zip(heard, covered)]
    # Every chunk holds speech (VAD): one that got no words before Whisper's last one was skipped
    # (seen with two streams relaying the same audio: Whisper wrote it once), so decode apart.
    last = max((seg.end for seg in result.segments), default=0.0)
    return any(not h and start < last for h, (_, start, _) in zip(heard, pack.members))


def _overlaps_speech(t0: float, t1: float, spans: list[tuple[int, int]]) -> bool:
    a, b = int(t0 * SAMPLE_RATE), int(t1 * SAMPLE_RATE)
    return any(s < b and a < e for s, e in spans) or (a == b and any(s <= a <= e for s, e in spans))


class Transcriber:
    def __init__(self, whisper: LoadedWhisper | CT2Whisper, opts: AsrOptions = AsrOptions(), vad: SpeechDetector | None = None):
        self.whisper = whisper
        self.opts = opts
        self.vad = vad or (SpeechDetector(opts.vad) if opts.use_vad else None)

    @property
    def model_id(self) -> str:
        return self.whisper.model_id

    def _spans(self, window: Window) -> list[tuple[int, int]]:
        if self.vad is None:
            return [(0, len(window.audio))] if len(window.audio) else []
        return self.vad.spans(window.audio)

    def _joins(self) -> bool:
        """Windows are joined when asked to and the engine can check each window's language on the
        shared input (or the language is given): a stream switching language mid-input would
        otherwise be written in the first language."""
        return self.opts.join and (hasattr(self.whisper, "decode_packed") or bool(self.opts.decode.language))

    def _segments(self, chunk: SpeechChunk, result: ChunkResult) -> list[Segment]:
        zh = is_chinese_lang(result.language)
        out = []
        for raw in result.segments:
            text = to_simplified(raw.text) if zh else raw.text
            reason = hallucination_reason(text, result.avg_logprob, result.no_speech_prob, result.compression_ratio,
                                          _overlaps_speech(raw.start, raw.end, chunk.spans), self.opts.guards)
            t0 = round(chunk.stream_time(raw.start), 3)
            out.append(Segment(
                stream_id=chunk.stream_id, t0=t0, t1=max(t0, round(chunk.stream_time(raw.end, end=True), 3)),
                text=text, lang="zh" if zh else result.language, avg_logprob=round(result.avg_logprob, 4),
                no_speech_prob=round(result.no_speech_prob, 4),
                compression_ratio=round(compression_ratio(text), 3), hallucination=reason is not None,
                hallucination_reason=reason, model_id=self.model_id))
        return out

    def _decode_all(self, chunks: list[SpeechChunk]) -> list[list[Segment]]:
        """Segments of each chunk (and of the chunks a joined one was split into, after them).
        Decode chunks as one batch. Whisper pays a full 30-s encoder pass per input however short,
        so short chunks (of any streams) share inputs, laid end to end with silence between, when
        the engine can check per chunk that they speak one language (see `_decode_packed`). Where
        Whisper stopped short of a chunk's end, the rest is decoded in a further round, packed the
        same way, its language kept (openai-whisper's transcribe() seeks the same way)."""
        segments: list[list[Segment]] = [[] for _ in chunks]
        current = list(chunks)
        languages: list[str | None] = [None] * len(chunks)
        todo = list(range(len(chunks)))
        for round_ in range(MAX_CONTINUATIONS + 1):
            if not todo:
                break
            if round_ == 0:
                per_row = []
                if any(len(current[i].windows) > 1 for i in todo):
                    per_row, todo = self._decode_joined(todo, current, segments, languages)
                per_row += self._decode_packed(todo, current, self.opts.decode)
            else:
                per_row = []
                for lang in dict.fromkeys(languages[i] for i in todo):
                    rows = [i for i in todo if languages[i] == lang]
                    per_row += self._decode_packed(rows, current, replace(self.opts.decode, language=lang))
            again = []
            for i, result, resume in per_row:
                languages[i] = languages[i] or result.language
                segments[i] += self._segments(current[i], result)
                # Whisper may also end early with a clean stop (often after a silenced gap) while VAD
                # heard speech later in the chunk: continue from the end of what it transcribed.
                min_rest = MIN_JOINED_REST_S if self._joins() else MIN_REST_S
                rest = _continuation(current[i], resume, min_rest) if resume is not None else None
                if rest is not None and round_ < MAX_CONTINUATIONS:
                    current[i] = rest
                    again.append(i)
            todo = again
        for segs in segments:
            segs.sort(key=lambda seg: seg.t0)
        return segments

    def _decode_joined(self, rows: list[int], current: list[SpeechChunk], segments: list, languages: list):
        """(row, result, resume) of the chunks that join several windows, and the rows left for
        `_decode_packed`. All go through one encoder pass; the engine detects the language of each
        window on its own stretch of it, and a chunk whose windows disagree is split back into one
        chunk per window (new rows, appended), so every window keeps its own language."""
        joined = [i for i in rows if len(current[i].windows) > 1]
        rest = [i for i in rows if len(current[i].windows) <= 1]
        packs = [PackedInput(current[i].audio, current[i].windows) for i in joined]
        opts = self.opts.decode
        if opts.language:
            results = self.whisper.decode([p.audio for p in packs], opts)
        else:
            results = self.whisper.decode_packed(packs, opts)
        out, apart = [], []
        for i, result in zip(joined, results):
            if result is not None:
                out.append((i, result, _resume(result)))
                continue
            for _, start, end in current[i].windows:
                current.append(current[i].part(int(start * SAMPLE_RATE), int(end * SAMPLE_RATE)))
                segments.append([])
                languages.append(None)
                apart.append(len(current) - 1)
        if apart:  # not packed together again: they have just been found to disagree
            results = self.whisper.decode([current[i].audio for i in apart], opts)
            out += [(i, r, _resume(r)) for i, r in zip(apart, results)]
        return out, rest

    def _decode_packed(self, rows: list[int], current: list[SpeechChunk], opts: DecodeOptions):
        """(row, result, resume point) for each row. Packed inputs go to the engine's decode_packed
        (without one, or with a language given, any engine can decode them); an input whose chunks
        turn out to speak different languages, or whose transcript runs across the silence between
        two chunks, is decoded again chunk by chunk, so no words are ever given to the wrong stream."""
        packs = pack_chunks([(i, current[i].audio) for i in rows]) if self.opts.pack else []
        shared = [p for p in packs if len(p.members) > 1]
        alone = [m[0] for p in packs if len(p.members) == 1 for m in p.members] if packs else list(rows)
        out = []
        if shared:
            packer = getattr(self.whisper, "decode_packed", None)
            if packer is not None:
                results = packer(shared, opts)
            elif opts.language:
                results = self.whisper.decode([p.audio for p in shared], opts)
            else:
                results = [None] * len(shared)
            for pack, result in zip(shared, results):
                if result is None or tangled(pack, result):
                    alone += [m[0] for m in pack.members]
                else:
                    out += unpack_result(pack, result)
        if alone:
            alone.sort()
            results = self.whisper.decode([current[i].audio for i in alone], opts)
            out += [(i, r, _resume(r)) for i, r in zip(alone, results)]
        return out

    def _flush(self, pending: list[tuple[Window, list[tuple[int, int]]]],
               joined: list[SpeechChunk] | None = None) -> list[WindowTranscript]:
        """The transcripts of `pending` (`joined`: its windows already joined, when they were)."""
        rows = [(k, window, spans) for k, (window, spans) in enumerate(pending) if spans]
        if self._joins():
            chunks = joined if joined is not None else join_windows(rows)
        else:
            chunks = [prepare_chunk(window, spans, k) for k, window, spans in rows]
        per_window: list[list[Segment]] = [[] for _ in pending]
        decoded = self._decode_all(chunks)
        if not self._joins():
            for chunk, segs in zip(chunks, decoded):
                per_window[chunk.windows[0][0]] += segs
        else:  # a segment of joined windows goes to the window its middle falls in
            for seg in (seg for segs in decoded for seg in segs):
                per_window[_window_of(seg, pending)].append(seg)
        out = []
        for (window, spans), segs in zip(pending, per_window):
            segs.sort(key=lambda seg: seg.t0)
            out.append(WindowTranscript(window, segs, sum(e - s for s, e in spans) / SAMPLE_RATE))
        return out

    def _full_at_end(self, joined: list[SpeechChunk], filled: float) -> bool:
        """Joined: flush once the last input of the batch is nearly full too. Each batch otherwise
        ended on a part-filled input (a third of one on average) that costs a whole encoder pass,
        and Whisper often stopped short on those, costing another: 636 s under music, 24 -> 22
        passes. A few more windows (up to LAST_INPUT_WAIT inputs' worth) usually fill it."""
        if filled >= self.opts.batch_size + LAST_INPUT_WAIT:
            return True
        return len(joined[-1].audio) >= LAST_INPUT_FULL * MAX_INPUT_S * SAMPLE_RATE

    def transcribe(self, windows: Iterable[Window],
                   on_speech: Callable[[], None] | None = None) -> Iterator[WindowTranscript]:
        """Windows in, one WindowTranscript per window out, in input order. Windows are decoded
        `batch_size` inputs at a time (joined, when the options ask: as many windows as fill them).
        `on_speech` is called once, when VAD first hears speech (before it is decoded).

        With `overlap`, a batch is decoded in a helper thread while the next one is read, checked
        by VAD and handed to the encoder ahead (at most one batch decodes while the next fills;
        each batch is the same as without, so the transcript is too)."""
        pending: list[tuple[Window, list[tuple[int, int]]]] = []
        filled = 0.0  # inputs the pending windows fill
        joins = self._joins()
        joined: list[SpeechChunk] = []  # the speech of the pending windows joined into inputs
        encode_ahead = getattr(self.whisper, "encode_ahead", None) if joins else None
        handed: dict[str, int] = {}  # per stream: joined inputs of the pending windows already encoded
        decoder = ThreadPoolExecutor(1, thread_name_prefix="asr-decode") if self.opts.overlap else None
        decoding: Future | None = None  # the batch in the helper thread: its list of WindowTranscripts
        checked = ((window, self._spans(window)) for window in windows)
        try:
            for window, spans in (_ahead(checked, self.opts.prefetch) if self.opts.prefetch else checked):
                pending.append((window, spans))
                if spans and on_speech is not None:
                    on_speech()
                    on_speech = None
                if spans:
                    filled += joined_seconds(spans) / MAX_INPUT_S if joins else 1
                    if joins:  # once per window, for the three uses below
                        joined = join_windows([(k, w, sp) for k, (w, sp) in enumerate(pending) if sp])
                    if encode_ahead is not None:
                        _encode_final(joined, handed, encode_ahead)
                if decoding is not None and decoding.done():
                    yield from decoding.result()
                    decoding = None
                if filled >= self.opts.batch_size and (not joins or self._full_at_end(joined, filled)):
                    if decoder is None:
                        yield from self._flush(pending, joined if joins else None)
                    else:
                        if decoding is not None:
                            yield from decoding.result()
                        decoding = decoder.submit(self._flush, pending, joined if joins else None)
                    pending, filled, handed, joined = [], 0.0, {}, []
            if decoding is not None:
                yield from decoding.result()
                decoding = None
            if pending:
                yield from self._flush(pending, joined if joins else None)
        finally:
            if decoder is not None:  # closed early: the batch in flight is finished, not left running
                decoder.shutdown(wait=True, cancel_futures=True)


def _encode_final(joined: list[SpeechChunk], handed: dict[str, int],
                  encode_ahead: Callable[[np.ndarray], None]) -> None:
    """Hand the joined inputs (of the pending windows) that no later window can change to the
    engine's encoder now (see CT2Whisper.encode_ahead): join_windows fills a stream's inputs in
    order, so every input but the stream's last is final. `handed` counts those already handed over."""
    by_stream: dict[str, list[SpeechChunk]] = {}
    for chunk in joined:
        by_stream.setdefault(chunk.stream_id, []).append(chunk)
    for stream_id, chunks in by_stream.items():
        for chunk in chunks[handed.get(stream_id, 0):-1]:
            encode_ahead(chunk.audio)
        handed[stream_id] = max(handed.get(stream_id, 0), len(chunks) - 1)


def _window_of(seg: Segment, pending: list[tuple[Window, list]]) -> int:
    """The pending window of the segment's stream that its middle falls in, else the nearest."""
    mid = (seg.t0 + seg.t1) / 2
    same = [k for k, (window, _) in enumerate(pending) if window.stream_id == seg.stream_id]
    return min(same, key=lambda k: (max(pending[k][0].t0 - mid, mid - pending[k][0].t1, 0.0),
                                    not pending[k][0].t0 <= mid < pending[k][0].t1))


def _ahead(items: Iterator, n: int) -> Iterator:
    """`items`, produced up to `n` ahead in a helper thread. An exception there is raised here, at
    the point the item it replaced would have come; closing this generator stops the thread."""
    box: queue.Queue = queue.Queue(maxsize=n)
    stop = threading.Event()
    end = object()

    def produce():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((end, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            box.put((end, exc))

    thread = threading.Thread(target=produce, name="asr-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = box.get()
            if item is end:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                box.get_nowait()
            except queue.Empty:
                thread.join(0.05)
