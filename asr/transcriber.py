"""The ASR stage: windows in (from any number of streams), timed transcript segments out.

Per window: VAD finds speech; the span from the first to the last word (plus padding) becomes
one chunk, with long non-speech stretches inside it silenced so Whisper has nothing to invent
from. Chunks from consecutive windows, whatever their stream, are decoded `batch_size` at a
time. Results come back in input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from asr.batch_decode import ChunkResult, DecodeOptions, RawSegment
from asr.chinese import is_chinese_lang, to_simplified
from asr.hallucination import GuardOptions, compression_ratio, hallucination_reason
from asr.types import Segment
from asr.vad import SpeechDetector, VadOptions
from asr.whisper_model import LoadedWhisper

if TYPE_CHECKING:
    from asr.ct2_engine import CT2Whisper
from ingest.decode import SAMPLE_RATE
from ingest.windows import Window

__all__ = ["AsrOptions", "WindowTranscript", "Transcriber", "prepare_chunk", "pack_chunks", "unpack_result", "tangled", "PackedInput"]

SILENCE_GAP_S = 1.0  # non-speech stretches longer than this inside a chunk are zeroed
MAX_CONTINUATIONS = 2  # further decoding rounds for chunks Whisper stopped short on
MIN_REST_S = 0.5  # speech shorter than this left after a stop is not worth another round
MAX_INPUT_S = 30.0  # Whisper's input length
PACK_GAP_S = 2.0  # silence between chunks packed into one input (at 1 s Whisper still ran sentences together)


@dataclass(frozen=True)
class AsrOptions:
    batch_size: int = 8  # chunks per Whisper call; larger = more throughput, more latency
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    vad: VadOptions = field(default_factory=VadOptions)
    guards: GuardOptions = field(default_factory=GuardOptions)
    use_vad: bool = True  # off: every window is decoded whole (for benchmarks against plain Whisper)
    pack: bool = True  # short chunks share 30-s inputs (see Transcriber._decode_all)

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


@dataclass
class WindowTranscript:
    window: Window
    segments: list[Segment]
    speech_s: float  # seconds VAD found speech in


@dataclass
class _Chunk:
    window: Window
    offset: int  # first sample of the chunk inside the window
    audio: np.ndarray
    spans: list[tuple[int, int]]  # speech spans, chunk-relative samples


def prepare_chunk(window: Window, spans: list[tuple[int, int]]) -> _Chunk | None:
    """The part of the window Whisper should hear, or None when there is no speech."""
    if not spans:
        return None
    start, end = spans[0][0], spans[-1][1]
    audio = window.audio[start:end].copy()
    gap = int(SILENCE_GAP_S * SAMPLE_RATE)
    rel = [(s - start, e - start) for s, e in spans]
    for (_, prev_end), (next_start, _) in zip(rel, rel[1:]):
        if next_start - prev_end > gap:
            audio[prev_end:next_start] = 0.0
    return _Chunk(window, start, audio, rel)


def _continuation(chunk: _Chunk, resume_at: float) -> _Chunk | None:
    """The part of `chunk` from `resume_at` seconds on, or None when no speech is left there."""
    cut = int(resume_at * SAMPLE_RATE)
    spans = [(max(s - cut, 0), e - cut) for s, e in chunk.spans if e - cut > MIN_REST_S * SAMPLE_RATE]
    # padding makes VAD spans end a little after the words; require real speech left, not padding
    if sum(e - s for s, e in spans) < MIN_REST_S * SAMPLE_RATE:
        return None
    if not spans or len(chunk.audio) - cut < MIN_REST_S * SAMPLE_RATE:
        return None
    return _Chunk(chunk.window, chunk.offset + cut, chunk.audio[cut:], spans)


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

    def _chunk(self, window: Window) -> _Chunk | None:
        if self.vad is None:
            return _Chunk(window, 0, window.audio, [(0, len(window.audio))]) if len(window.audio) else None
        return prepare_chunk(window, self.vad.spans(window.audio))

    def _segments(self, chunk: _Chunk, result: ChunkResult) -> list[Segment]:
        zh = is_chinese_lang(result.language)
        base = chunk.window.t0 + chunk.offset / SAMPLE_RATE
        out = []
        for raw in result.segments:
            text = to_simplified(raw.text) if zh else raw.text
            reason = hallucination_reason(text, result.avg_logprob, result.no_speech_prob, result.compression_ratio,
                                          _overlaps_speech(raw.start, raw.end, chunk.spans), self.opts.guards)
            out.append(Segment(
                stream_id=chunk.window.stream_id, t0=round(base + raw.start, 3), t1=round(base + raw.end, 3),
                text=text, lang="zh" if zh else result.language, avg_logprob=round(result.avg_logprob, 4),
                no_speech_prob=round(result.no_speech_prob, 4),
                compression_ratio=round(compression_ratio(text), 3), hallucination=reason is not None,
                hallucination_reason=reason, model_id=self.model_id))
        return out

    def _decode_all(self, chunks: list[_Chunk]) -> list[list[Segment]]:
        """Decode chunks as one batch. Whisper pays a full 30-s encoder pass per input however short,
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
                per_row = self._decode_packed(todo, current, self.opts.decode)
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
                rest = _continuation(current[i], resume) if resume is not None else None
                if rest is not None and round_ < MAX_CONTINUATIONS:
                    current[i] = rest
                    again.append(i)
            todo = again
        for segs in segments:
            segs.sort(key=lambda seg: seg.t0)
        return segments

    def _decode_packed(self, rows: list[int], current: list[_Chunk], opts: DecodeOptions):
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

    def _flush(self, pending: list[tuple[Window, _Chunk | None]]) -> Iterator[WindowTranscript]:
        chunks = [c for _, c in pending if c is not None]
        decoded = iter(self._decode_all(chunks))
        for window, chunk in pending:
            if chunk is None:
                yield WindowTranscript(window, [], 0.0)
                continue
            speech = sum(e - s for s, e in chunk.spans) / SAMPLE_RATE
            yield WindowTranscript(window, next(decoded), speech)

    def transcribe(self, windows: Iterable[Window]) -> Iterator[WindowTranscript]:
        pending: list[tuple[Window, _Chunk | None]] = []
        n_chunks = 0
        for window in windows:
            chunk = self._chunk(window)
            pending.append((window, chunk))
            n_chunks += chunk is not None
            if n_chunks >= self.opts.batch_size:
                yield from self._flush(pending)
                pending, n_chunks = [], 0
        if pending:
            yield from self._flush(pending)
