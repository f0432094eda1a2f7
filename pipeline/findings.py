"""From transcript segments to findings: the claims check applied where it is safe to apply.

Segments marked as hallucinations never produce findings. One finding per (segment, label):
when several rules agree, the most confident one is kept as the decider.

Whisper ends a segment where the host pauses, and hosts pause inside a claim (「原价999，」 ...
「今天只要99」, "Normally 1,099." ... "Today only 99."). So two consecutive segments less than
`JOIN_GAP_S` apart are also checked together; a hit there counts only if it spans both segments and
its label was not found in either alone (the finding then covers both).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from asr.types import Segment
from claims import ClaimDetector, get_label
from claims.rules import LANGS

__all__ = ["Finding", "find_claims", "JOIN_GAP_S"]

JOIN_GAP_S = 1.5  # longest pause between two segments still read as one utterance


@dataclass(frozen=True)
class Finding:
    source: str
    t0: float
    t1: float
    label: str  # a taxonomy id
    score: float
    evidence: str  # the words that triggered it, as transcribed
    decided_by: str  # rule id@ruleset version, or model id@version
    legal_basis: str
    severity: str
    segment_text: str
    lang: str
    asr_model: str


def _best_hits(detector: ClaimDetector, text: str, lang: str) -> dict[str, object]:
    best: dict[str, object] = {}
    # Whisper now and then names another language for accented or noisy speech ("hu" for
    # English): the text is still checked, against every language's rules.
    for hit in detector.detect(text, lang if lang in LANGS else None):
        if hit.label not in best or hit.score > best[hit.label].score:
            best[hit.label] = hit
    return best


def _finding(source: str, t0: float, t1: float, hit, text: str, seg: Segment) -> Finding:
    return Finding(source=source, t0=t0, t1=t1, label=hit.label, score=round(float(hit.score), 4), evidence=hit.text,
                   decided_by=hit.decided_by, legal_basis=hit.legal_basis, severity=get_label(hit.label).severity,
                   segment_text=text, lang=seg.lang, asr_model=seg.model_id)


def find_claims(segments: Iterable[Segment], detector: ClaimDetector, source: str,
                previous: Segment | None = None) -> list[Finding]:
    """Findings in `segments` (in time order). `previous`: the segment just before them, already
    checked (live: the end of the last window), so a claim split across the two is still found."""
    findings: list[Finding] = []
    prev, prev_labels = previous, None
    for seg in segments:
        if seg.hallucination:
            prev, prev_labels = None, None
            continue
        best = _best_hits(detector, seg.text, seg.lang)
        for hit in best.values():
            findings.append(_finding(source, seg.t0, seg.t1, hit, seg.text, seg))
        if prev is not None and not prev.hallucination and prev.text and 0 <= seg.t0 - prev.t1 <= JOIN_GAP_S:
            if prev_labels is None:
                prev_labels = set(_best_hits(detector, prev.text, prev.lang))
            joined = f"{prev.text} {seg.text}"
            cut = len(prev.text)
            for label, hit in _best_hits(detector, joined, seg.lang).items():
                if hit.start < cut < hit.end and label not in best and label not in prev_labels:
                    findings.append(_finding(source, prev.t0, seg.t1, hit, joined, seg))
        prev, prev_labels = seg, set(best)
    return findings
