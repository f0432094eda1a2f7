"""From transcript segments to findings: the claims check applied where it is safe to apply.

Segments marked as hallucinations never produce findings. One finding per (segment, label), and
per listing field for claim_contradicts_listing: when several rules agree, the most confident one
is kept as the decider.

Whisper ends a segment where the host pauses, and hosts pause inside a claim (「原价999，」 ...
「今天只要99」, "Normally 1,099." ... "Today only 99."). So each segment is also checked with
the one or two before it when the pauses are at most `JOIN_GAP_S`; a label found there counts only
if none of those segments had it alone (the finding then covers them all). All checks of a batch
of segments go to the detector at once (the claims model runs them as one batch).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from asr.types import Segment
from claims import ClaimDetector, get_label
from claims.rules import LANGS

__all__ = ["Finding", "find_claims", "finding_key", "JOIN_GAP_S"]

JOIN_GAP_S = 1.5  # longest pause between two segments still read as one utterance
CONTEXT_SEGMENTS = 2  # a segment is also checked with up to this many segments before it


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


def detect_many(detector: ClaimDetector, texts: list[str], langs: list[str | None]) -> list[list]:
    """Hits per text; one batch where the detector batches (the model), else one call per text."""
    if hasattr(detector, "detect_batch"):
        return detector.detect_batch(texts, langs)
    return [detector.detect(t, lang) for t, lang in zip(texts, langs)]


def finding_key(label: str, decided_by: str) -> str:
    """What makes two hits (or findings, or report records) of one text one finding: the label, and
    for a contradiction of the listing also its field: "silk" against a cotton listing and "from
    Japan" against a Chinese one are two facts a moderator checks apart (and Whisper may well put
    both in one segment)."""
    return f"{label}|{decided_by}" if label == "claim_contradicts_listing" else label


def _best(hits) -> dict[str, object]:
    """One hit per label (per listing field for claim_contradicts_listing): a rule's where there is
    one (its words are exact), else the model's, with the highest score of the label and every
    component that found it named in `decided_by`."""
    by_label: dict[str, list] = {}
    for hit in hits:
        by_label.setdefault(finding_key(hit.label, hit.decided_by), []).append(hit)
    best: dict[str, object] = {}
    for label, group in by_label.items():
        pick = max(group, key=lambda h: (not h.decided_by.startswith("model:"), h.score))
        names = list(dict.fromkeys(h.decided_by for h in sorted(group, key=lambda h: h.decided_by.startswith("model:"))))
        best[label] = replace(pick, score=max(h.score for h in group), decided_by="+".join(names))
    return best


def _finding(source: str, t0: float, t1: float, hit, text: str, seg: Segment) -> Finding:
    return Finding(source=source, t0=t0, t1=t1, label=hit.label, score=round(float(hit.score), 4), evidence=hit.text,
                   decided_by=hit.decided_by, legal_basis=hit.legal_basis, severity=get_label(hit.label).severity,
                   segment_text=text, lang=seg.lang, asr_model=seg.model_id)


def _lang(seg: Segment) -> str | None:
    # Whisper now and then names another language for accented or noisy speech ("hu" for
    # English): the text is still checked, against every language's rules.
    return seg.lang if seg.lang in LANGS else None


def find_claims(segments: Iterable[Segment], detector: ClaimDetector, source: str,
                previous: Segment | Sequence[Segment] | None = None) -> list[Finding]:
    """Findings in `segments` (in time order). `previous`: the segment(s) just before them, already
    checked (live: the end of the last window), so a claim split across them is still found.

    Every segment is checked alone; then with the one before it, and with the two before it,
    when each pause is at most JOIN_GAP_S. A joined check adds a label only when none of its
    segments had it alone and no smaller join already reported it for these segments."""
    if isinstance(previous, Segment):
        previous = [previous]
    before = [s for s in (previous or []) if not s.hallucination and s.text][-CONTEXT_SEGMENTS:]
    segs = list(segments)
    timeline = before + segs  # checks of the `before` part alone were done with the last batch
    first_new = len(before)
    chains: list[tuple[int, int]] = []  # (first, last) index into timeline, joined text checked
    for i in range(first_new, len(timeline)):
        if timeline[i].hallucination:
            continue
        chains.append((i, i))
        j = i
        while j > 0 and i - j < CONTEXT_SEGMENTS and _joinable(timeline[j - 1], timeline[j]):
            j -= 1
            chains.append((j, i))
    for k in range(first_new):  # labels of the earlier segments alone, for the joined checks
        chains.append((k, k))
    texts = [" ".join(timeline[x].text for x in range(a, b + 1)) for a, b in chains]
    results = detect_many(detector, texts, [_lang(timeline[b]) for _, b in chains])
    alone = {a: _best(hits) for (a, b), hits in zip(chains, results) if a == b}
    findings: list[Finding] = []
    covered: dict[str, set[int]] = {}  # label -> segments a joined finding already covers
    for (a, b), hits, text in sorted(zip(chains, results, texts), key=lambda c: (c[0][1], c[0][1] - c[0][0])):
        seg = timeline[b]
        if a == b:
            if b >= first_new:
                findings += [_finding(source, seg.t0, seg.t1, hit, seg.text, seg) for hit in alone[b].values()]
            continue
        span = set(range(a, b + 1))
        for label, hit in _best(hits).items():
            if any(label in alone.get(x, {}) for x in span) or span & covered.get(label, set()):
                continue
            covered.setdefault(label, set()).update(span)
            findings.append(_finding(source, timeline[a].t0, seg.t1, hit, text, seg))
    return findings


def _joinable(prev: Segment, seg: Segment) -> bool:
    return not prev.hallucination and bool(prev.text) and 0 <= seg.t0 - prev.t1 <= JOIN_GAP_S
