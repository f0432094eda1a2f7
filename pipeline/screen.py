"""On-screen text: claims shown on screen, and the AI label taken off screen.

Two shapes of the same checks. `screen_text_findings` / `ai_label_findings` fold a whole
recording's OCR readings (scan: each finding spans everything it covers). `LiveScreenText` /
`LiveLabelWatch` take one reading at a time and report as soon as a finding is certain, because
a live stream may run for hours (monitor): a claim read in `confirm` readings in a row is
reported then (a single reading is reported when the text leaves the screen), and a removed AI
label is reported once it has been missing for `LabelOptions.min_gap_s` over at least
`min_missing_checks` readings. Each appearance is reported once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from claims import ClaimDetector, get_label
from pipeline.findings import Finding
from vision.ai_label import AiLabelReport, LabelOptions, find_ai_label
from vision.ocr import OCR_MODEL_ID, ScreenText

__all__ = ["LABEL_STRIPPED_SCORE", "screen_text_findings", "ai_label_findings", "LiveScreenText", "LiveLabelWatch"]

LABEL_STRIPPED_SCORE = 0.8  # a rule, not a model: the label was read and then was not, several times
HIT_CACHE_LINES = 256  # distinct on-screen lines whose claims are remembered per stream


def _line_hits(line: ScreenText, detector: ClaimDetector, lang: str) -> dict:
    best = {}
    for hit in detector.detect(line.text, lang):
        if hit.label not in best or hit.score > best[hit.label].score:
            best[hit.label] = hit
    return best


def _text_finding(hit, line: ScreenText, t: float, source: str, lang: str) -> Finding:
    return Finding(source=source, t0=round(t, 3), t1=round(t, 3), label=hit.label, score=round(float(hit.score), 4),
                   evidence=f"on screen: {hit.text}", decided_by=f"{hit.decided_by}+ocr:{OCR_MODEL_ID}",
                   legal_basis=hit.legal_basis, severity=get_label(hit.label).severity, segment_text=line.text,
                   lang=lang, asr_model="")


class LiveScreenText:
    """Claims in on-screen text, one OCR reading at a time (see the module doc)."""

    def __init__(self, detector: ClaimDetector, source: str = "", lang: str = "zh", confirm: int | None = 2):
        # confirm=None: report an appearance only when it leaves the screen (or at finish), with its
        # full extent: the recording's fold, screen_text_findings
        self.detector, self.source, self.lang, self.confirm = detector, source, lang, confirm
        self.open: dict[tuple[str, str], list] = {}  # (label, words) -> [finding, readings, reported]
        # a line's claims by its text: a sticker is read at every reading for as long as it is on
        # screen, and the claims model need not see it again each time (the oldest are forgotten)
        self._hits: dict[str, dict] = {}

    def _hits_of(self, line: ScreenText) -> dict:
        hits = self._hits.pop(line.text, None)
        if hits is None:
            hits = _line_hits(line, self.detector, self.lang)
            if len(self._hits) >= HIT_CACHE_LINES:
                del self._hits[next(iter(self._hits))]
        self._hits[line.text] = hits  # most recently read last
        return hits

    def update(self, t: float, lines: list[ScreenText]) -> list[Finding]:
        """Findings certain after the reading at stream time `t`."""
        out, seen = [], set()
        for line in lines:
            for label, hit in self._hits_of(line).items():
                key = (label, hit.text)
                seen.add(key)
                if key in self.open:
                    state = self.open[key]
                    state[0], state[1] = replace(state[0], t1=round(t, 3)), state[1] + 1
                else:
                    state = self.open[key] = [_text_finding(hit, line, t, self.source, self.lang), 1, False]
                if not state[2] and self.confirm is not None and state[1] >= self.confirm:
                    state[2] = True
                    out.append(state[0])
        for key in [k for k in self.open if k not in seen]:
            finding, _, reported = self.open.pop(key)
            if not reported:
                out.append(finding)  # read once and gone: reported as scan would
        return out

    def finish(self) -> list[Finding]:
        """What is on screen and not yet reported when the stream ends."""
        out = [state[0] for state in self.open.values() if not state[2]]
        self.open.clear()
        return out


def screen_text_findings(readings: Iterable[tuple[float, list[ScreenText]]], detector: ClaimDetector,
                         source: str = "", lang: str = "zh") -> list[Finding]:
    """Claims in on-screen text, checked like spoken words. Consecutive readings of the same
    (label, words) merge into one finding spanning them, so a sticker on screen for ten minutes is
    one finding, not three hundred."""
    fold = LiveScreenText(detector, source, lang, confirm=None)
    done = [f for t, lines in readings for f in fold.update(t, lines)] + fold.finish()
    return sorted(done, key=lambda f: (f.t0, f.label))


def _label_finding(t0: float, t1: float, checks: int, first_seen: float, shown: str, until: str,
                   source: str) -> Finding:
    label = get_label("undisclosed_ai_content")
    return Finding(
        source=source, t0=round(t0, 3), t1=round(t1, 3), label="undisclosed_ai_content", score=LABEL_STRIPPED_SCORE,
        evidence=(f"AI label {shown!r} on screen from t={first_seen:.1f} s, missing from t={t0:.1f} s "
                  f"({checks} readings; {until})"),
        decided_by=f"ai-label-rules@1+ocr:{OCR_MODEL_ID}", legal_basis=label.legal_basis, severity=label.severity,
        segment_text="", lang="", asr_model="")


def ai_label_findings(report: AiLabelReport, source: str = "") -> list[Finding]:
    """`undisclosed_ai_content` for each stretch where a shown AI label was taken off screen."""
    shown = next((c.label for c in report.checks if c.label), "")
    return [_label_finding(gap.t0, gap.t1, gap.checks, report.first_seen, shown,
                           f"back at t={gap.t1:.1f} s" if gap.back else f"still missing at the last reading, t={gap.t1:.1f} s",
                           source)
            for gap in report.removals]


class LiveLabelWatch:
    """The AI label, one OCR reading at a time: once shown, its removal is reported as soon as
    it has been missing long enough (see the module doc)."""

    def __init__(self, opts: LabelOptions = LabelOptions(), source: str = ""):
        self.opts, self.source = opts, source
        self.first_seen: float | None = None
        self.shown = ""
        self.missing_since: float | None = None
        self.missing_checks = 0
        self.reported = False

    def update(self, t: float, lines: list[ScreenText]) -> list[Finding]:
        found = next((lab for lab in (find_ai_label(line.text) for line in lines) if lab), None)
        if found:
            if self.first_seen is None:
                self.first_seen, self.shown = t, found
            self.missing_since, self.missing_checks, self.reported = None, 0, False
            return []
        if self.first_seen is None:
            return []  # never shown: whether it had to be is the synthetic check's question
        if self.missing_since is None:
            self.missing_since = t
        self.missing_checks += 1
        if (not self.reported and self.missing_checks >= self.opts.min_missing_checks
                and t - self.missing_since >= self.opts.min_gap_s):
            self.reported = True
            return [_label_finding(self.missing_since, t, self.missing_checks, self.first_seen, self.shown,
                                   f"still missing at t={t:.1f} s", self.source)]
        return []
