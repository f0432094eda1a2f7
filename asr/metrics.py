"""Word and character error rates, for benchmarks and quality tests."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from asr.chinese import to_simplified

__all__ = ["edit_distance", "normalize_for_wer", "spell_lone_digits", "wer", "cer"]

_NON_WORD = re.compile(r"[^\w\s']+")
# A single digit standing alone as a word: not part of a longer number ("25", "3.5", "1,000",
# "5:30", "1/2"), an amount ("$5", "5%") or a word ("5th", "5-year").
_LONE_DIGIT = re.compile(r"(?<![\w.,:/$\u00a3\u20ac\u00a2%-])(\d)(?![\w%:/-]|[.,]\d)")
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


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


def spell_lone_digits(text: str) -> str:
    """Single digits that stand alone written as words ("8 of spades" -> "eight of spades")."""
    return _LONE_DIGIT.sub(lambda m: _DIGIT_WORDS[int(m.group(1))], text)


def normalize_for_wer(text: str, digits_as_words: bool = False) -> str:
    """Lower case, no punctuation; English spelling normalised the way Whisper's papers score it.

    `digits_as_words`: spell single digits that stand alone as words first. Whisper's normaliser
    reads successive spelled single digits as one number ("five five eight" -> "558") but leaves
    digits Whisper already wrote as digits apart, so the same words score differently by how they
    were written: "Five, five. Eight of spades" -> "558 of spades", "Five, five. 8 of spades" ->
    "55 8 of spades", "5, 5" -> "5 5" against "five five" -> "55". Spelled first, each is read
    the one way."""
    return _english_normalizer()(spell_lone_digits(text) if digits_as_words else text)


def wer(refs: list[str], hyps: list[str], digits_as_words: bool = False) -> float:
    """Corpus WER: total word edits over total reference words (`digits_as_words`: see
    normalize_for_wer)."""
    errors = words = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        r = normalize_for_wer(ref, digits_as_words).split()
        h = normalize_for_wer(hyp, digits_as_words).split()
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
