"""Traditional to Simplified Chinese, for transcripts and for the claims normaliser.

Whisper often writes Mandarin in Traditional characters; rules, reviewers and the blacklist
all speak Simplified, so every zh transcript is converted once, here.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["to_simplified", "is_chinese_lang"]

CHINESE_LANGS = {"zh", "yue"}


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _converter().convert(text) if text else text


def is_chinese_lang(lang: str | None) -> bool:
    return lang in CHINESE_LANGS
