"""From transcript segments to findings: the claims check applied where it is safe to apply.

Segments marked as hallucinations never produce findings. One finding per (segment, label):
when several rules agree, the most confident one is kept as the decider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from asr.types import Segment
from claims import ClaimDetector, get_label
from claims.rules import LANGS

__all__ = ["Finding", "find_claims"]


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


def find_claims(segments: Iterable[Segment], detector: ClaimDetector, source: str) -> list[Finding]:
    findings: list[Finding] = []
    for seg in segments:
        if seg.hallucination:
            continue
        best: dict[str, object] = {}
        # Whisper now and then names another language for accented or noisy speech ("hu" for
        # English): the text is still checked, against every language's rules.
        for hit in detector.detect(seg.text, seg.lang if seg.lang in LANGS else None):
            if hit.label not in best or hit.score > best[hit.label].score:
                best[hit.label] = hit
        for label, hit in best.items():
            findings.append(Finding(
                source=source, t0=seg.t0, t1=seg.t1, label=label, score=round(float(hit.score), 4),
                evidence=hit.text, decided_by=hit.decided_by, legal_basis=hit.legal_basis,
                severity=get_label(label).severity, segment_text=seg.text, lang=seg.lang, asr_model=seg.model_id))
    return findings
