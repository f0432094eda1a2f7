"""Batched Whisper decoding: many audio chunks, one encoder pass and one decoding loop.

openai-whisper's `transcribe()` handles one file at a time; here up to `batch_size` chunks from
any windows of any streams are stacked into one mel batch and decoded together with
`whisper.decode`, which detects the language of each row on its own. Greedy decoding at
temperature 0, no previous-text prompt (conditioning carries hallucinations from one window
to the next). Rows that fail the quality checks are decoded again at rising temperatures,
again as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

__all__ = ["DecodeOptions", "ChunkResult", "RawSegment", "chunk_segments", "decode_chunks", "needs_retry",
           "resume_point", "split_segments", "timestamp_pairs"]

TIME_PRECISION = 0.02  # seconds per Whisper timestamp token


@dataclass(frozen=True)
class DecodeOptions:
    language: str | None = None  # None: detect per chunk
    task: str = "transcribe"
    fallback_temperatures: tuple[float, ...] = (0.2, 0.4, 0.6)
    compression_ratio_threshold: float = 2.4  # retry a row above this
    logprob_threshold: float = -1.0  # retry a row below this (unless it is silence)
    no_speech_threshold: float = 0.6
    # CPU engine: a batch's greedy pass may be split over its replicas when they have nothing else
    # to do (CT2Whisper._first_pass); the same results, sooner, for more CPU. For a caller that
    # decodes one batch at a time (scan), not the monitor, whose batches wait on each other.
    spread: bool = False


@dataclass(frozen=True)
class RawSegment:
    start: float  # seconds from the chunk's first sample
    end: float
    text: str


@dataclass(frozen=True)
class ChunkResult:
    language: str
    segments: list[RawSegment]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    resume_at: float | None = None  # decoding stopped short: the rest of the chunk from here is untranscribed


def timestamp_pairs(tokens: list[int], tokenizer) -> list[int]:
    """Indices k where tokens k-1 and k are both timestamps: the end of one segment and the
    start of the next (k is the opening timestamp)."""
    ts_begin = tokenizer.timestamp_begin
    return [k for k in range(1, len(tokens)) if tokens[k] >= ts_begin and tokens[k - 1] >= ts_begin]


def resume_point(tokens: list[int], tokenizer, duration: float) -> float | None:
    """Where decoding must resume when Whisper stopped before the end of the chunk, else None.

    As in openai-whisper's seek logic: a sequence that ends on one timestamp after text covered the
    whole chunk; one that ends on text (or on a pair) was cut off after its last timestamp pair,
    so the text after that pair is dropped and the audio from the pair's time is decoded again.
    """
    ts_begin = tokenizer.timestamp_begin
    pairs = timestamp_pairs(tokens, tokenizer)
    if not pairs or [t >= ts_begin for t in tokens[-2:]] == [False, True]:
        return None
    t = (tokens[pairs[-1] - 1] - ts_begin) * TIME_PRECISION
    return t if 0 < t < duration - 0.5 else None


def chunk_segments(tokens: list[int], tokenizer, duration: float) -> tuple[list[RawSegment], float | None]:
    """Segments of a decoded chunk and, when Whisper stopped short, where to resume."""
    resume = resume_point(tokens, tokenizer, duration)
    segments = split_segments(tokens, tokenizer, duration)
    if resume is not None:
        segments = [s for s in segments if s.end <= resume + 1e-6]
    return segments, resume


def split_segments(tokens: list[int], tokenizer, duration: float) -> list[RawSegment]:
    """Cut a decoded token list at its timestamp tokens into timed segments."""
    ts_begin = tokenizer.timestamp_begin
    segments: list[RawSegment] = []
    start: float | None = None
    text: list[int] = []
    for tok in tokens:
        if tok < ts_begin:
            text.append(tok)
            continue
        t = min((tok - ts_begin) * TIME_PRECISION, duration)
        if text:
            segments.append(RawSegment(start if start is not None else 0.0, t, tokenizer.decode(text).strip()))
            text, start = [], None
        else:
            start = t
    if text:  # no closing timestamp: the segment runs to the end of the chunk
        segments.append(RawSegment(start if start is not None else 0.0, duration, tokenizer.decode(text).strip()))
    return [s for s in segments if s.text and s.end >= s.start]


def needs_retry(r, opts: DecodeOptions) -> bool:
    if r.no_speech_prob > opts.no_speech_threshold and r.avg_logprob < opts.logprob_threshold:
        return False  # silence: retrying would only invent words
    return r.compression_ratio > opts.compression_ratio_threshold or r.avg_logprob < opts.logprob_threshold


def _mels(model, chunks: list[np.ndarray]) -> torch.Tensor:
    import whisper

    mels = [whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(c)), model.dims.n_mels)
            for c in chunks]
    return torch.stack(mels).to(model.device)


def decode_chunks(model, chunks: list[np.ndarray], opts: DecodeOptions = DecodeOptions()) -> list[ChunkResult]:
    """Decode up-to-30-second float32 chunks as one batch; one ChunkResult per chunk, in order."""
    import whisper
    from whisper.tokenizer import get_tokenizer

    if not chunks:
        return []
    fp16 = model.device.type == "cuda"
    mel = _mels(model, chunks)
    if fp16:
        mel = mel.half()
    base = whisper.DecodingOptions(task=opts.task, language=opts.language, temperature=0.0,
                                   without_timestamps=False, fp16=fp16)
    with torch.inference_mode():
        results = list(whisper.decode(model, mel, base))
        temps = [0.0] * len(chunks)
        for temperature in opts.fallback_temperatures:
            retry = [i for i, r in enumerate(results) if needs_retry(r, opts)]
            if not retry:
                break
            again = whisper.decode(model, mel[retry], replace(base, temperature=temperature))
            for i, r in zip(retry, again):
                # take the retry when it passes the checks, else whichever attempt is more confident
                if not needs_retry(r, opts) or r.avg_logprob > results[i].avg_logprob:
                    results[i], temps[i] = r, temperature
    out = []
    for chunk, r, temp in zip(chunks, results, temps):
        tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages,
                                  language=r.language, task=opts.task)
        duration = min(len(chunk) / 16000, 30.0)
        segments, resume = chunk_segments(r.tokens, tokenizer, duration)
        out.append(ChunkResult(r.language, segments, r.avg_logprob, r.no_speech_prob, r.compression_ratio, temp,
                               resume))
    return out
