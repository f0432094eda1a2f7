"""Text normalisation for claim matching, with an index map back to the original.

Every output character carries the (start, end) span of original text it came
from, so a match on the normalised text can be reported on the words actually
spoken. Steps (order matters):
  1. full-width ASCII -> half-width, lowercase (per char, length-preserving)
  2. Traditional -> Simplified (OpenCC t2s, per CJK run, only if 1:1 in length)
  3. drop separators sitting between two CJK chars (「治 疗」「治*疗」 evasion)
  4. collapse whitespace runs; join letter-spaced Latin words ("c.u.r.e", "w h a t s a p p")
  5. data-driven code-word substitutions (claims/data/substitutions.toml)
  6. step 3 again, since a substitution can leave a separator between CJK chars
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from asr.chinese import to_simplified

SUBSTITUTIONS_FILE = Path(__file__).parent / "data" / "substitutions.toml"
CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{CJK_RANGES}]")
_CJK_RUN = re.compile(f"[{CJK_RANGES}]+")
# Light punctuation hosts insert inside words to dodge keyword filters.
_SEP_BETWEEN_CJK = re.compile(f"(?<=[{CJK_RANGES}])[\\s·•・*\\-_.~]+(?=[{CJK_RANGES}])")
_WS_RUN = re.compile(r"\s+")
# Single Latin letters joined by one repeated separator: "t.e.n.c.e.l", "w-h-a-t-s", "c u r e".
# At least 3 letters (4 when the separator is a space), so "i.e.", "a.m." and "I a m" stay as they are.
_SPELLED = re.compile(
    r"(?<![a-z0-9])[a-z](?:([.*·_\-])[a-z](?![a-z0-9]))(?:\1[a-z](?![a-z0-9]))+"
    r"|(?<![a-z0-9])[a-z](?: [a-z](?![a-z0-9])){3,}"
)
_SPELL_SEP = re.compile(r"[ .*·_\-]")

Span = tuple[int, int]


@dataclass(frozen=True)
class Normalized:
    original: str
    text: str
    spans: tuple[Span, ...]  # spans[i] = original span of text[i]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span [start, end) to a span of the original text."""
        if not 0 <= start <= end <= len(self.text):
            raise IndexError(f"span ({start}, {end}) outside normalised text of length {len(self.text)}")
        if start == end:  # empty span: anchor at the next char (or the end)
            pos = self.spans[start][0] if start < len(self.spans) else len(self.original)
            return pos, pos
        return self.spans[start][0], self.spans[end - 1][1]


@dataclass(frozen=True)
class _Sub:
    pattern: re.Pattern[str]
    to: str


@lru_cache(maxsize=8)
def load_substitutions(path: Path = SUBSTITUTIONS_FILE) -> tuple[_Sub, ...]:
    """Load `[[sub]] from = [regex, ...], to = "canonical"` entries."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    subs = []
    for i, entry in enumerate(data.get("sub", [])):
        try:
            subs.extend(_Sub(re.compile(p), entry["to"]) for p in entry["from"])
        except (KeyError, TypeError, re.error) as exc:
            raise ValueError(f"{path}: bad substitution #{i}: {exc}") from exc
    return tuple(subs)


def _fold_char(ch: str) -> str:
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII block
        ch = chr(code - 0xFEE0)
    elif code == 0x3000:  # ideographic space
        ch = " "
    low = ch.lower()
    return low if len(low) == 1 else ch  # e.g. 'İ'.lower() has 2 chars: keep 1:1


def _t2s(chars: list[str]) -> list[str]:
    joined = "".join(chars)
    out = list(joined)
    for m in _CJK_RUN.finditer(joined):
        converted = to_simplified(m.group())
        if len(converted) == len(m.group()):
            out[m.start():m.end()] = converted
        else:  # phrase conversion changed length: convert char by char where 1:1
            for i in range(m.start(), m.end()):
                single = to_simplified(joined[i])
                if len(single) == 1:
                    out[i] = single
    return out


def _rewrite(text: str, spans: list[Span], pattern: re.Pattern[str], repl) -> tuple[str, list[Span]]:
    """Replace each match with repl(match); new chars map to the matched source span."""
    out: list[str] = []
    out_spans: list[Span] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() == m.end():
            continue
        out.append(text[pos:m.start()])
        out_spans.extend(spans[pos:m.start()])
        new = repl(m)
        src = (spans[m.start()][0], spans[m.end() - 1][1])
        out.append(new)
        out_spans.extend([src] * len(new))
        pos = m.end()
    out.append(text[pos:])
    out_spans.extend(spans[pos:])
    return "".join(out), out_spans


def normalize(text: str, substitutions: tuple[_Sub, ...] | None = None) -> Normalized:
    """Normalise `text` for matching; see module docstring for the steps."""
    if substitutions is None:
        return _normalize_default(text)
    return _normalize(text, substitutions)


@lru_cache(maxsize=1024)
def _normalize_default(text: str) -> Normalized:
    # The combined detector's rules and model each normalise every sentence of a batch: cached,
    # the work is done once. Small on purpose: a result keeps a span per character (~100 bytes
    # each), and only the second reading of the same batch needs it.
    return _normalize(text, load_substitutions())


def clear_cache() -> None:
    """Forget cached results (a benchmark that cycles through a fixed set of texts must not time look-ups)."""
    _normalize_default.cache_clear()


def _normalize(text: str, subs: tuple[_Sub, ...]) -> Normalized:
    chars = _t2s([_fold_char(c) for c in text])
    cur = "".join(chars)
    spans: list[Span] = [(i, i + 1) for i in range(len(text))]
    cur, spans = _rewrite(cur, spans, _SEP_BETWEEN_CJK, lambda m: "")
    cur, spans = _rewrite(cur, spans, _WS_RUN, lambda m: " ")
    cur, spans = _rewrite(cur, spans, _SPELLED, lambda m: _SPELL_SEP.sub("", m.group()))
    for sub in subs:
        cur, spans = _rewrite(cur, spans, sub.pattern, lambda m, to=sub.to: to)
    cur, spans = _rewrite(cur, spans, _SEP_BETWEEN_CJK, lambda m: "")
    return Normalized(original=text, text=cur, spans=tuple(spans))


def is_cjk(ch: str) -> bool:
    return bool(_CJK.match(ch))
