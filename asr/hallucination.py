"""Guards against Whisper output that was not said.

Whisper invents text over silence and noise ("thanks for watching", 「字幕由Amara.org社群提供」),
loops on a phrase, or decodes with very low confidence. Such segments stay in the transcript
(a reviewer may want to see them) but are marked, and the claims stage skips them.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from asr.chinese import to_simplified

__all__ = ["GuardOptions", "compression_ratio", "hallucination_reason", "known_phrases"]


@dataclass(frozen=True)
class GuardOptions:
    no_speech_threshold: float = 0.6  # with a low logprob: Whisper itself thinks there is no speech
    logprob_threshold: float = -1.0  # mean token log-probability below this is too unsure to act on
    compression_ratio_threshold: float = 2.4  # gzip ratio above this means repeated text
    min_chars_for_ratio: int = 24  # short texts compress badly whatever they say


_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def _key(text: str) -> str:
    return _PUNCT.sub("", to_simplified(unicodedata.normalize("NFKC", text)).lower())


@lru_cache(maxsize=1)
def known_phrases() -> frozenset[str]:
    lines = resources.files("asr").joinpath("data/hallucinations.txt").read_text("utf-8").splitlines()
    return frozenset(_key(line) for line in lines if line.strip() and not line.startswith("#"))


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def hallucination_reason(text: str, avg_logprob: float, no_speech_prob: float, chunk_ratio: float,
                         in_speech: bool, opts: GuardOptions = GuardOptions()) -> str | None:
    """Why this segment should not be trusted, or None when it passes every guard."""
    key = _key(text)
    if not key:
        return "empty"
    if key in known_phrases():
        return "known_phrase"
    if not in_speech:
        return "outside_speech"
    if no_speech_prob > opts.no_speech_threshold and avg_logprob < opts.logprob_threshold:
        return "no_speech"
    if chunk_ratio > opts.compression_ratio_threshold:
        return "repetition"
    if len(text) >= opts.min_chars_for_ratio and compression_ratio(text) > opts.compression_ratio_threshold:
        return "repetition"
    if avg_logprob < opts.logprob_threshold:
        return "low_confidence"
    return None
