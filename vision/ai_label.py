"""Is an AI-disclosure label on screen, and does it stay there?

China's AI-content labelling measures (2025-09-01, GB 45438-2025) want a visible, persistent label
on AI presenters and AI-generated scenes: 「AI生成」, 「数字人」, "AI-generated" and the like. A stream
that shows such a label has said it is synthetic; if the label later disappears, that is the
"labels stripped" case of `undisclosed_ai_content`.

OCR misses are common (a label over a busy background, motion blur), so a removal is only
reported when the label is absent from at least `min_missing_checks` consecutive readings that
span at least `min_gap_s` seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from vision.ocr import ScreenText

__all__ = ["AI_LABEL_PATTERNS", "find_ai_label", "LabelCheck", "LabelGap", "AiLabelReport", "LabelOptions",
           "check_ai_label"]

# Searched in the OCR text with blanks removed and case folded. OCR reads the capital I of "AI" as
# a small L ("Al-generated") often enough that "al"/"a1" count as "ai" in the English forms.
AI_LABEL_PATTERNS = (
    re.compile(r"(ai|人工智能)(生成|合成|创作|制作)"),
    re.compile(r"数字人|虚拟(主播|人)|ai主播|ai数字人"),
    re.compile(r"(ai|al|a1)[-_]?(generated|created|synthesi[sz]ed)"),
    re.compile(r"(generated|created)(by|with)(ai|al|a1)\b"),
)


def find_ai_label(text: str) -> str | None:
    """The disclosure label in `text` (as normalised), or None."""
    norm = re.sub(r"\s+", "", text).casefold()
    for pattern in AI_LABEL_PATTERNS:
        m = pattern.search(norm)
        if m:
            return m.group(0)
    return None


@dataclass(frozen=True)
class LabelOptions:
    min_gap_s: float = 6.0  # a label absent for less than this is an OCR miss or a scene change
    min_missing_checks: int = 2  # ... and it must be missing from at least this many readings in a row

    def __post_init__(self):
        if self.min_gap_s < 0 or self.min_missing_checks < 1:
            raise ValueError(f"need min_gap_s >= 0 and min_missing_checks >= 1, got {self.min_gap_s}, "
                             f"{self.min_missing_checks}")


@dataclass(frozen=True)
class LabelCheck:
    t: float
    label: str | None  # the label text as read, None when no label was on screen


@dataclass(frozen=True)
class LabelGap:
    t0: float  # first reading without the label
    t1: float  # the reading where it was back, or the last reading of the recording
    checks: int  # readings without the label
    back: bool  # the label came back at t1


@dataclass(frozen=True)
class AiLabelReport:
    checks: tuple[LabelCheck, ...]
    first_seen: float | None  # stream time the label was first read; None: never shown
    coverage: float  # share of readings that found the label (0 when there were none)
    removals: tuple[LabelGap, ...]  # gaps after first_seen long enough to count

    @property
    def labelled(self) -> bool:
        return self.first_seen is not None

    @property
    def persistent(self) -> bool:
        """Shown from the first reading and never removed."""
        return bool(self.checks) and self.checks[0].label is not None and not self.removals


def check_ai_label(readings: Iterable[tuple[float, list[ScreenText]]],
                   opts: LabelOptions = LabelOptions()) -> AiLabelReport:
    """Fold OCR readings (t, lines), in time order, into the label's timeline."""
    checks = []
    for t, lines in readings:
        found = next((lab for lab in (find_ai_label(line.text) for line in lines) if lab), None)
        checks.append(LabelCheck(t, found))
    first = next((c.t for c in checks if c.label), None)
    removals, run = [], []

    def close(end: LabelCheck, back: bool) -> None:
        if len(run) >= opts.min_missing_checks and end.t - run[0].t >= opts.min_gap_s:
            removals.append(LabelGap(run[0].t, end.t, len(run), back))

    for c in checks:
        if first is None or c.t < first:
            continue
        if c.label is None:
            run.append(c)
        elif run:
            close(c, True)
            run = []
    if run:
        close(run[-1], False)
    coverage = sum(c.label is not None for c in checks) / len(checks) if checks else 0.0
    return AiLabelReport(tuple(checks), first, round(coverage, 4), tuple(removals))
