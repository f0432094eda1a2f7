"""LiveGuard's CPU engine: the same registry weights run by CTranslate2 with int8 matrices.

The default Whisper ships in CTranslate2 format, so no conversion is needed for this path. One
encoder pass serves both language detection and decoding (encoded features are reused), the
decoder runs greedy with timestamps and no prompt, and rows that fail the quality checks are
re-decoded by sampling at rising temperatures, as in the PyTorch path. Windows from any number
of streams are decoded as one batch.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from asr.ahead import AheadEncoder
from asr.batch_decode import (ChunkResult, DecodeOptions, chunk_segments, needs_retry, resume_point,
                               timestamp_pairs)
from asr.hallucination import compression_ratio
from liveguard.heap import keep_heap

__all__ = ["CT2Whisper", "pack_language"]

N_MELS = 80  # Whisper base
# Language detection reads the first 10 s of encoder output (500 of 1500 frames; chunks start at
# speech). It is one decoder step whose cost is the cross-attention over every frame: measured
# 5.4x cheaper than over all 30 s on 8 windows, with the same language and close probabilities.
LANG_FRAMES = 500
CONTINUE_ROUNDS = 2  # prompted continuations per row when Whisper stops short (see CT2Whisper._continue)


def pack_language(probs: list[dict[str, float]], seconds: list[float], sure: float = 0.5) -> str | None:
    """The language of an input holding several chunks: the duration-weighted favourite, unless a
    chunk is fairly sure (top probability >= `sure`) of another language, in which case the chunks
    must be decoded apart (None). A short chunk alone is a weak witness of its language (a 1-s
    "yes" can look Welsh), so it follows the others unless it is sure."""
    total: dict[str, float] = {}
    for p, s in zip(probs, seconds):
        for lang, v in p.items():
            total[lang] = total.get(lang, 0.0) + s * v
    lang = max(total, key=total.get)
    for p in probs:
        top = max(p, key=p.get)
        if top != lang and p[top] >= sure:
            return None
    return lang


class _Result:
    """The fields of openai-whisper's DecodingResult that the retry rule reads."""

    def __init__(self, tokens, avg_logprob, no_speech_prob, text):
        self.tokens, self.avg_logprob, self.no_speech_prob = tokens, avg_logprob, no_speech_prob
        self.compression_ratio = compression_ratio(text)


class CT2Whisper:
    """Decodes chunks with CTranslate2. `model_dir` holds model.bin + config.json (+ vocabulary)."""

    def __init__(self, model_dir: str | Path, model_id: str, device: str = "cpu", compute_type: str = "int8",
                 threads: int | None = None):
        if device == "cpu":
            keep_heap()  # before CTranslate2 starts its threads (see liveguard.heap)
        import ctranslate2
        from whisper.tokenizer import get_tokenizer

        threads = threads or (os.cpu_count() or 1)
        # On the CPU: one single-threaded replica per core. Greedy decoding gained nothing from a
        # second thread (8 rows: ~1.95 s wall and 2.9 CPU-s with two threads, ~1.7 s with one), so
        # it runs on one replica and leaves the other cores to VAD, claims and encoding ahead; the
        # encoder runs one row per replica, all at once (_encode_cpu; a row at a time, its buffers
        # fit what the heap keeps, see liveguard.heap). 636 s under music: the same transcript with
        # ~15% less CPU (22 vs 26 CPU-s, two runs each on a loaded machine).
        self._replicas = threads if device == "cpu" else 1
        torch_threads = torch.get_num_threads()
        self.model = ctranslate2.models.Whisper(str(model_dir), device=device, compute_type=compute_type,
                                                intra_threads=1 if device == "cpu" else threads,
                                                inter_threads=self._replicas)
        # CTranslate2 sets the calling thread's OpenMP thread count to intra_threads, and PyTorch
        # shares that OpenMP runtime: put PyTorch's count back (the replicas keep their own)
        torch.set_num_threads(torch_threads)
        self._pool = ThreadPoolExecutor(self._replicas, thread_name_prefix="ct2-encode") if self._replicas > 1 else None
        self.model_id = f"{model_id}+ct2-{compute_type}"
        self.device = device
        self.tokenizer = get_tokenizer(True, task="transcribe")
        self._sv = ctranslate2.StorageView
        self._ct2 = ctranslate2
        # inputs announced by encode_ahead, encoded in a background thread (CPU only)
        self._ahead = AheadEncoder(lambda chunks: self._encode_cpu(chunks), self._replicas) if device == "cpu" else None

    @staticmethod
    def _mel(chunks: list[np.ndarray]) -> np.ndarray:
        import whisper

        return np.ascontiguousarray(torch.stack([whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(c)),
                                                                             N_MELS) for c in chunks]).numpy())

    def _encode_cpu(self, chunks: list[np.ndarray]) -> np.ndarray:
        mel = self._mel(chunks)

        def encode(i: int) -> np.ndarray:
            return np.asarray(self.model.encode(self._sv.from_array(mel[i:i + 1]), to_cpu=False))

        rows = self._pool.map(encode, range(len(chunks))) if self._pool is not None and len(chunks) > 1 else \
            map(encode, range(len(chunks)))
        return np.concatenate(list(rows))

    def encode_ahead(self, audio: np.ndarray) -> None:
        """Have `audio` encoded, in the background, for a decode call that will get the same
        samples later (CPU only; elsewhere nothing happens); returns at once. The transcriber
        hands over each input of a batch once it is final, while the rest of the batch is still
        being read and checked by VAD and the batch before is decoded (asr.ahead): 636 s under
        music, the first batch had waited ~2.5 s for 8 inputs' worth of windows with a core idle."""
        if self._ahead is not None:
            self._ahead.put(audio)

    def _decoding(self):
        return self._ahead.decoding() if self._ahead is not None else nullcontext()

    def _features(self, chunks: list[np.ndarray]):
        if self.device != "cpu":
            return self.model.encode(self._sv.from_array(self._mel(chunks)), to_cpu=False)
        ahead = [self._ahead.take(c) for c in chunks]
        rows: list[np.ndarray | None] = [None] * len(chunks)
        todo = [i for i, f in enumerate(ahead) if f is None]
        if todo:  # while the encodes handed over earlier finish
            for i, out in zip(todo, self._encode_cpu([chunks[i] for i in todo])):
                rows[i] = out
        for i, f in enumerate(ahead):
            if f is not None:
                rows[i] = f.result()
        return self._sv.from_array(np.ascontiguousarray(np.stack(rows)))

    def _head(self, encoded):
        """The first LANG_FRAMES frames of the encoder output (on the CPU; on a GPU the full
        output is kept: the step is cheap there and slicing would copy through the host)."""
        if self.device != "cpu":
            return encoded
        return self._sv.from_array(np.ascontiguousarray(np.asarray(encoded)[:, :LANG_FRAMES]))

    def _rows(self, encoded, chunks, rows: list[int]):
        """Encoder output of some rows: sliced on the CPU (a copy of a few MB); re-encoded on a GPU,
        where the output cannot be sliced without a round trip through the host."""
        if self.device == "cpu":
            return self._sv.from_array(np.ascontiguousarray(np.asarray(encoded)[rows]))
        return self._features([chunks[i] for i in rows])

    def _generate(self, encoded, prompts, temperature: float) -> list[_Result]:
        sampling = dict(sampling_topk=0, sampling_temperature=temperature) if temperature > 0 else {}
        out = self.model.generate(encoded, prompts, beam_size=1, return_scores=True, return_no_speech_prob=True,
                                  max_length=448, suppress_blank=True, **sampling)
        results = []
        for r in out:
            tokens = [t for t in r.sequences_ids[0] if t != self.tokenizer.eot]
            text = self.tokenizer.decode([t for t in tokens if t < self.tokenizer.eot])
            results.append(_Result(tokens, float(r.scores[0]), float(r.no_speech_prob), text))
        return results

    def decode(self, chunks: list[np.ndarray], opts: DecodeOptions = DecodeOptions()) -> list[ChunkResult]:
        if not chunks:
            return []
        with self._decoding():
            return self._decode(chunks, opts)

    def _decode(self, chunks: list[np.ndarray], opts: DecodeOptions) -> list[ChunkResult]:
        encoded = self._features(chunks)
        if opts.language:
            langs = [opts.language] * len(chunks)
        else:
            langs = [best[0][0].strip("<|>") for best in self.model.detect_language(self._head(encoded))]
        return self._decode_encoded(chunks, encoded, langs, opts)

    def decode_packed(self, packs, opts: DecodeOptions = DecodeOptions()) -> list[ChunkResult | None]:
        """Inputs that each hold several chunks (asr.transcriber.PackedInput). One encoder pass for
        all; the language is detected on each chunk's own stretch of encoder output, and an input
        is decoded only when its chunks agree (None otherwise: decode them apart)."""
        if not packs:
            return []
        with self._decoding():
            return self._decode_packed(packs, opts)

    def _decode_packed(self, packs, opts: DecodeOptions) -> list[ChunkResult | None]:
        audio = [p.audio for p in packs]
        encoded = self._features(audio)
        if opts.language:
            langs: list[str | None] = [opts.language] * len(packs)
        elif self.device != "cpu":
            return [None] * len(packs)  # slicing encoder output would copy through the host
        else:
            frames = np.asarray(encoded)
            per_member = self._member_languages(frames, [p.members for p in packs])
            langs = [pack_language(probs, [end - start for _, start, end in p.members])
                     for p, probs in zip(packs, per_member)]
        keep = [k for k, lang in enumerate(langs) if lang is not None]
        out: list[ChunkResult | None] = [None] * len(packs)
        if keep:
            if len(keep) < len(packs):
                encoded = self._sv.from_array(np.ascontiguousarray(np.asarray(encoded)[keep]))
            for k, r in zip(keep, self._decode_encoded([audio[k] for k in keep], encoded, [langs[k] for k in keep],
                                                       opts)):
                out[k] = r
        return out

    def _member_languages(self, frames: np.ndarray,
                          members: list[list[tuple[int, float, float]]]) -> list[list[dict[str, float]]]:
        """Language probabilities of each member, from its first (up to) LANG_FRAMES frames;
        members of equal stretch length share one detection call."""
        per_sec = frames.shape[1] / 30.0
        stretches = []
        for k, mem in enumerate(members):
            for j, (_, start, end) in enumerate(mem):
                a = int(start * per_sec)
                stretches.append((k, j, a, max(a + 1, min(int(end * per_sec), a + LANG_FRAMES))))
        found: dict[tuple[int, int], dict[str, float]] = {}
        for length in sorted({b - a for _, _, a, b in stretches}):
            group = [(k, j, a, b) for k, j, a, b in stretches if b - a == length]
            batch = np.ascontiguousarray(np.stack([frames[k, a:b] for k, _, a, b in group]))
            for (k, j, _, _), best in zip(group, self.model.detect_language(self._sv.from_array(batch))):
                found[(k, j)] = {lang.strip("<|>"): p for lang, p in best}
        return [[found[(k, j)] for j in range(len(mem))] for k, mem in enumerate(members)]

    def _first_pass(self, encoded, prompts, opts: DecodeOptions) -> list[_Result]:
        """Greedy decoding of every row. With `opts.spread`, on the CPU, when nothing is being
        encoded ahead (a scan's last batch: no input is left to encode), the rows are split over
        the replicas so that the other core does not idle: 8 rows of 28 s took 2.2-2.4 s instead
        of 2.6-3.1 s on one replica, for ~1.6x the CPU. Each row's tokens and scores are the same
        however the rows are batched (the same 8 rows; tests/asr/test_real_whisper.py)."""
        n = len(prompts)
        if not opts.spread or self._ahead is None or not self._ahead.idle() or self._pool is None or n < 2:
            return self._generate(encoded, prompts, 0.0)
        frames = np.asarray(encoded)
        parts = [p for p in np.array_split(np.arange(n), self._replicas) if len(p)]

        def run(rows: np.ndarray) -> list[_Result]:
            return self._generate(self._sv.from_array(np.ascontiguousarray(frames[rows])),
                                  [prompts[i] for i in rows], 0.0)

        return [r for part in self._pool.map(run, parts) for r in part]

    def _decode_encoded(self, chunks, encoded, langs, opts: DecodeOptions) -> list[ChunkResult]:
        tok = self.tokenizer
        prompts = [[tok.sot, tok.special_tokens[f"<|{lang}|>"],
                    tok.special_tokens["<|transcribe|>" if opts.task == "transcribe" else "<|translate|>"]]
                   for lang in langs]
        results = self._first_pass(encoded, prompts, opts)
        temps = [0.0] * len(chunks)
        for temperature in opts.fallback_temperatures:
            retry = [i for i, r in enumerate(results) if needs_retry(r, opts)]
            if not retry:
                break
            # Sampling is seeded so that scanning the same recording twice gives the same transcript.
            self._ct2.set_random_seed(int(temperature * 1000))
            again = self._generate(self._rows(encoded, chunks, retry), [prompts[i] for i in retry], temperature)
            for i, r in zip(retry, again):
                if not needs_retry(r, opts) or r.avg_logprob > results[i].avg_logprob:
                    results[i], temps[i] = r, temperature
        results = self._continue(chunks, encoded, prompts, results, opts)
        out = []
        for chunk, lang, r, temp in zip(chunks, langs, results, temps):
            duration = min(len(chunk) / 16000, 30.0)
            segments, resume = chunk_segments(r.tokens, tok, duration)
            out.append(ChunkResult(lang, segments, r.avg_logprob, r.no_speech_prob, r.compression_ratio, temp, resume))
        return out

    def _continue(self, chunks, encoded, prompts, results: list[_Result], opts: DecodeOptions) -> list[_Result]:
        """Rows where Whisper stopped short of the chunk's end (it closed a segment, opened the next
        and ended, as it does when it thinks the next words run past its 30 s) are decoded further
        from the same encoder output, prompted with their last segment and the open timestamp:
        Whisper then writes the rest. This replaces a second encoder pass over the rest of the chunk
        (the transcriber's continuation), which costs as much as a whole window on the CPU. The
        prompt is short on purpose: CTranslate2 steps through prompt tokens one by one, and the last
        segment gave the same words as the whole transcript so far (measured: 0.27 s vs 1.7 s for
        two rows). A row whose continuation adds nothing, or fails the quality checks, keeps its
        stop; the transcriber then decodes the rest as before."""
        tok = self.tokenizer
        for _ in range(CONTINUE_ROUNDS):
            todo, spans = [], []
            for i, r in enumerate(results):
                duration = min(len(chunks[i]) / 16000, 30.0)
                if resume_point(r.tokens, tok, duration) is None:
                    continue
                opens = timestamp_pairs(r.tokens, tok)
                todo.append(i)
                # from the opening timestamp of the last closed segment to the one Whisper left open
                spans.append((opens[-2] if len(opens) > 1 else 0, opens[-1] + 1))
            if not todo:
                break
            grown = self._generate(self._rows(encoded, chunks, todo),
                                   [prompts[i] + results[i].tokens[a:b] for i, (a, b) in zip(todo, spans)], 0.0)
            moved = False
            for i, (a, b), g in zip(todo, spans, grown):
                old = results[i]
                new = g.tokens[b - a:]
                if not new or g.tokens[:b - a] != old.tokens[a:b] or needs_retry(g, opts):
                    continue
                tokens = old.tokens[:b] + new
                # g.avg_logprob covers the new tokens only: weight the two parts by their lengths
                lp = (old.avg_logprob * b + g.avg_logprob * len(new)) / len(tokens)
                results[i] = _Result(tokens, lp, old.no_speech_prob, tok.decode([t for t in tokens if t < tok.eot]))
                moved = True
            if not moved:
                break
        return results
