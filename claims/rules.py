"""Regex rule engine over normalised text, driven by TOML rule files.

A rule file:
    version = "1"
    exception_window = 15          # optional: chars either side searched for exceptions
    [defs]                         # optional macros, used as ${NAME} in patterns
    NUM = '[0-9]+'
    [[rule]]
    id = "zh.absolute.whole_net"   # unique across all loaded files
    label = "absolute_terms"       # taxonomy id
    lang = "zh"                    # "zh" | "en"
    patterns = ['全网最好']
    exceptions = ['店里']          # optional: suppress the hit if found near it
    score = 0.9                    # 0..1, the rule's precision estimate
    legal_basis = "..."            # optional, defaults to the label's
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .normalize import Normalized, normalize
from .taxonomy import LABELS
from .types import ClaimHit

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_FILES = (DATA_DIR / "rules_zh.toml", DATA_DIR / "rules_en.toml")
LANGS = ("zh", "en")
DEFAULT_WINDOW = 20
REQUIRED_KEYS = {"id", "label", "lang", "patterns", "score"}
OPTIONAL_KEYS = {"exceptions", "legal_basis"}
_MACRO = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Exception windows stop at sentence ends and at contrast words: in
# 「这个不能代替药物，但是能治糖尿病」 the disclaimer must not excuse the claim.
_BOUNDARY = re.compile(r"[。！？!?;；\n]|\.(?=\s|$)|(?<!不)但|可是|不过|\bbut\b|\bhowever\b")


class RuleFileError(ValueError):
    """A rule file is malformed; the message names the file, rule and line."""


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    lang: str
    patterns: tuple[re.Pattern[str], ...]
    exceptions: tuple[re.Pattern[str], ...]
    score: float
    legal_basis: str
    version: str
    window: int

    @property
    def decided_by(self) -> str:
        return f"rule:{self.id}@{self.version}"


def _line_of(raw: str, rule_id: object, index: int) -> int | None:
    """Best-effort line number: the rule's `id = ...` line, else its [[rule]] header."""
    if isinstance(rule_id, str):
        m = re.search(rf"^\s*id\s*=\s*[\"']{re.escape(rule_id)}[\"']", raw, re.M)
        if m:
            return raw.count("\n", 0, m.start()) + 1
    headers = [m.start() for m in re.finditer(r"^\s*\[\[rule\]\]", raw, re.M)]
    if index < len(headers):
        return raw.count("\n", 0, headers[index]) + 1
    return None


def _expand(pattern: str, defs: dict[str, str], depth: int = 0) -> str:
    """Replace ${NAME} with defs[NAME]; macros may use other macros (bounded depth)."""
    if depth > 5:
        raise ValueError("macro nesting too deep (cycle?)")

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in defs:
            raise ValueError(f"undefined macro ${{{m.group(1)}}}")
        return _expand(defs[m.group(1)], defs, depth + 1)
    return _MACRO.sub(sub, pattern)


def _compile_list(value: object, key: str, defs: dict[str, str], required: bool) -> tuple[re.Pattern[str], ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise ValueError(f"`{key}` must be a list of strings")
    if required and not value:
        raise ValueError(f"`{key}` must not be empty")
    out = []
    for p in value:
        try:
            out.append(re.compile(_expand(p, defs), re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"bad regex in `{key}` {p!r}: {exc}") from None
    return tuple(out)


def _build_rule(entry: object, version: str, window: int, defs: dict[str, str]) -> Rule:
    if not isinstance(entry, dict):
        raise ValueError("rule must be a table")
    missing = REQUIRED_KEYS - entry.keys()
    if missing:
        raise ValueError(f"missing key(s): {', '.join(sorted(missing))}")
    unknown = entry.keys() - REQUIRED_KEYS - OPTIONAL_KEYS
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    if not isinstance(entry["id"], str) or not entry["id"]:
        raise ValueError("`id` must be a non-empty string")
    if entry["label"] not in LABELS:
        raise ValueError(f"unknown label {entry['label']!r}; valid: {', '.join(sorted(LABELS))}")
    if entry["lang"] not in LANGS:
        raise ValueError(f"`lang` must be one of {LANGS}, got {entry['lang']!r}")
    score = entry["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        raise ValueError(f"`score` must be a number in [0, 1], got {score!r}")
    basis = entry.get("legal_basis", LABELS[entry["label"]].legal_basis)
    if not isinstance(basis, str):
        raise ValueError("`legal_basis` must be a string")
    return Rule(
        id=entry["id"], label=entry["label"], lang=entry["lang"],
        patterns=_compile_list(entry["patterns"], "patterns", defs, required=True),
        exceptions=_compile_list(entry.get("exceptions", []), "exceptions", defs, required=False),
        score=float(score), legal_basis=basis, version=version, window=window,
    )


def load_rule_file(path: str | Path) -> list[Rule]:
    """Parse and validate one rule file; RuleFileError on any problem."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
        data = tomllib.loads(raw)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleFileError(f"{path}: {exc}") from exc
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise RuleFileError(f"{path}: top-level `version` (string) is required")
    window = data.get("exception_window", DEFAULT_WINDOW)
    defs = data.get("defs", {})
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise RuleFileError(f"{path}: `exception_window` must be a non-negative integer")
    if not isinstance(defs, dict) or not all(isinstance(v, str) for v in defs.values()):
        raise RuleFileError(f"{path}: `[defs]` must map names to strings")
    entries = data.get("rule", [])
    if not isinstance(entries, list) or not entries:
        raise RuleFileError(f"{path}: no [[rule]] tables")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        rid = entry.get("id") if isinstance(entry, dict) else None
        try:
            rule = _build_rule(entry, version, window, defs)
            if rule.id in seen:
                raise ValueError("duplicate rule id")
        except ValueError as exc:
            line = _line_of(raw, rid, i)
            where = f"{path}" + (f":{line}" if line else "")
            raise RuleFileError(f"{where}: rule #{i} (id={rid!r}): {exc}") from None
        seen.add(rule.id)
        rules.append(rule)
    return rules


def _clause(text: str, start: int, end: int, window: int) -> str:
    """The text around [start, end) within `window` chars, cut at clause boundaries."""
    lo, hi = max(0, start - window), min(len(text), end + window)
    left = text[lo:start]
    cuts = [m.end() for m in _BOUNDARY.finditer(left)]
    if cuts:
        lo += cuts[-1]
    m = _BOUNDARY.search(text, end, hi)
    if m:
        hi = m.start()
    return text[lo:hi]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


class RuleSet:
    """An ordered collection of validated rules."""

    def __init__(self, rules: Iterable[Rule]):
        self.rules: tuple[Rule, ...] = tuple(rules)
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise RuleFileError(f"duplicate rule id(s) across files: {', '.join(dupes)}")

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> "RuleSet":
        rules: list[Rule] = []
        for p in paths:
            rules.extend(load_rule_file(p))
        return cls(rules)

    @classmethod
    def load_default(cls) -> "RuleSet":
        return cls.from_files(DEFAULT_FILES)

    def __len__(self) -> int:
        return len(self.rules)

    def detect(self, text: str, lang: str | None = None) -> list[ClaimHit]:
        """Hits in `text`; lang None applies every rule, else only that language's."""
        if lang is not None and lang not in LANGS:
            raise ValueError(f"lang must be one of {LANGS} or None, got {lang!r}")
        norm = normalize(text)
        found: list[tuple[Rule, int, int]] = []
        for rule in self.rules:
            if lang is not None and rule.lang != lang:
                continue
            spans = [m.span() for p in rule.patterns for m in p.finditer(norm.text) if m.end() > m.start()]
            for s, e in _merge(spans):
                clause = _clause(norm.text, s, e, rule.window)
                if not any(x.search(clause) for x in rule.exceptions):
                    found.append((rule, s, e))
        return [self._to_hit(norm, r, s, e) for r, s, e in _dedupe(found)]

    @staticmethod
    def _to_hit(norm: Normalized, rule: Rule, s: int, e: int) -> ClaimHit:
        os_, oe = norm.to_original(s, e)
        return ClaimHit(label=rule.label, start=os_, end=oe, text=norm.original[os_:oe],
                        score=rule.score, decided_by=rule.decided_by, legal_basis=rule.legal_basis)


def _dedupe(found: list[tuple[Rule, int, int]]) -> list[tuple[Rule, int, int]]:
    """Overlapping hits of the same label from different rules: keep the best score."""
    kept: list[tuple[Rule, int, int]] = []
    for cand in sorted(found, key=lambda f: -f[0].score):
        r, s, e = cand
        if not any(k[0].label == r.label and s < k[2] and k[1] < e for k in kept):
            kept.append(cand)
    return sorted(kept, key=lambda f: (f[1], f[2], f[0].label))


class RuleDetector:
    """ClaimDetector backed by a RuleSet (the bundled rules by default)."""

    name = "rules"

    def __init__(self, ruleset: RuleSet | None = None):
        self.ruleset = ruleset if ruleset is not None else RuleSet.load_default()

    def detect(self, text: str, lang: str | None = None) -> list[ClaimHit]:
        return self.ruleset.detect(text, lang)
