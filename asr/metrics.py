"""Word and character error rates, for benchmarks and quality tests."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from asr.chinese import to_simplified

__all__ = ["edit_distance", "normalize_for_wer", "wer", "cer"]

_NON_WORD = re.compile(r"[^\w\s']+")


def edit_distance(ref: list, hyp: list) -> int:
    """Levenshtein distance between two sequences (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


@lru_cache(maxsize=1)
def _english_normalizer():
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize_for_wer(text: str) -> str:
    """Lower case, no punctuation; English spelling normalised the way Whisper's papers score it."""
    return _english_normalizer()(text)


def wer(refs: list[str], hyps: list[str]) -> float:
    """Corpus WER: total word edits over total reference words."""
    errors = words = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        r, h = normalize_for_wer(ref).split(), normalize_for_wer(hyp).split()
        errors += edit_distance(r, h)
        words += len(r)
    return errors / max(words, 1)


def _chars(text: str) -> list[str]:
    text = to_simplified(unicodedata.normalize("NFKC", text)).lower()
    return [c for c in _NON_WORD.sub("", text) if not c.isspace()]


def cer(refs: list[str], hyps: list[str]) -> float:
    """Corpus CER over characters, ignoring punctuation and spaces (for Chinese)."""
    errors = chars = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        r, h = _chars(ref), _chars(hyp)
        errors += edit_distance(r, h)
        chars += len(r)
    return errors / max(chars, 1)
