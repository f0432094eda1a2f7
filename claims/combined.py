"""Rules + classifier + listing checks, combined by one documented policy.

Policy (per sentence):
  1. Rules decide first. A rule hit is kept as is (rules are written for precision and carry
     the exact words, an exception list and the legal basis) unless the fine-tuned model is
     sure its label is absent (calibrated probability under the model's `rule_veto`, chosen with
     each build on the calibration writers; 0.01 for builds before ft9): the rules' own false
     positives were most of the combined detector's, and they fire on ordinary speech too.
  2. The classifier adds recall: a label is added when the model's probability reaches that
     label's combined threshold (`combined_thresholds` of the model's sidecar). For the
     fine-tuned model (claims-e5@ft9 and later) these are its own thresholds, calibrated on held-out
     calibration writers so that each writer's lawful talk gets at most 3% flagged by the model;
     the older e5-head calibrates them on held-out templates where `rules OR model` scores best.
     When a rule and the model agree, both are named and the score is the larger of the two.
  3. With a product listing, the listing checks (claims/listing.py) add
     `claim_contradicts_listing` and category-aware `medical_claim_non_drug` findings, with
     the listing field as evidence; for a listing of category "drug" (or medical device),
     `medical_claim_non_drug` is dropped: the product is not a non-drug.
`decided_by[label]` joins every component that fired for it with "+", e.g.
"rule:zh.medical.cure_disease@1+model:e5-head@1" or "listing:material@1".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .listing import Listing, check_listing, confirmed_origin
from .rules import RuleDetector
from .taxonomy import SUBSUMES
from .types import ClaimHit

MAX_TEXT_CHARS = 20_000   # one transcript segment or on-screen line; longer input is refused per line
DRUG_CATEGORIES = frozenset({"drug", "medical_device"})


@dataclass(frozen=True)
class Classification:
    text: str
    hits: tuple[ClaimHit, ...]
    labels: tuple[str, ...]
    scores: dict[str, float]
    decided_by: dict[str, str]
    evidence: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {"text": self.text, "labels": list(self.labels), "scores": self.scores, "decided_by": self.decided_by,
             "hits": [{"label": h.label, "start": h.start, "end": h.end, "text": h.text, "score": h.score,
                       "decided_by": h.decided_by, "legal_basis": h.legal_basis} for h in self.hits]}
        if self.evidence:
            d["evidence"] = self.evidence
        return d


def _summarise(text: str, hits: list[ClaimHit], evidence: dict[str, str]) -> Classification:
    hits = sorted(hits, key=lambda h: (h.start, h.end, h.label))
    scores: dict[str, float] = {}
    deciders: dict[str, list[str]] = {}
    for h in hits:
        scores[h.label] = max(scores.get(h.label, 0.0), h.score)
        names = deciders.setdefault(h.label, [])
        if h.decided_by not in names:
            names.append(h.decided_by)
    labels = tuple(sorted(scores))
    return Classification(text=text, hits=tuple(hits), labels=labels,
                          scores={k: round(scores[k], 4) for k in labels},
                          decided_by={k: "+".join(deciders[k]) for k in labels}, evidence=evidence)


class CombinedDetector:
    """ClaimDetector over any of: rules, a classifier (anything with proba/hits_from_proba), listings.

    `rules=None` and `classifier=None` switch a component off (for `claims eval --detector`).
    """

    def __init__(self, rules: RuleDetector | None = None, classifier=None, use_listing: bool = True):
        if rules is None and classifier is None:
            raise ValueError("CombinedDetector needs rules, a classifier, or both")
        self.rules = rules
        self.classifier = classifier
        self.use_listing = use_listing
        parts = ([rules.name] if rules is not None else []) + ([classifier.name] if classifier is not None else [])
        self.name = "+".join(parts)

    def classify_batch(self, texts: Sequence[str], langs: Sequence[str | None] | None = None,
                       listings: Sequence[Listing | None] | None = None) -> list[Classification]:
        """Classify many sentences (the classifier embeds them in one batch)."""
        n = len(texts)
        langs = list(langs) if langs is not None else [None] * n
        listings = list(listings) if listings is not None else [None] * n
        if len(langs) != n or len(listings) != n:
            raise ValueError("texts, langs and listings must have the same length")
        for t in texts:
            if len(t) > MAX_TEXT_CHARS:
                raise ValueError(f"text has {len(t)} characters, more than {MAX_TEXT_CHARS}; split it into sentences")
        rule_hits = [list(self.rules.detect(t, langs[i])) if self.rules is not None else [] for i, t in enumerate(texts)]
        model_hits, probs = self._model_hits(list(texts))
        if probs is not None and hasattr(self.classifier, "vetoes"):
            rule_hits = [[h for h in hits if not self.classifier.vetoes(h.label, probs[i])]
                         for i, hits in enumerate(rule_hits)]
        out = []
        for i, text in enumerate(texts):
            hits = rule_hits[i] + model_hits[i]
            evidence: dict[str, str] = {}
            listing = listings[i]
            if listing is not None and self.use_listing:
                for f in check_listing(text, listing, hits):
                    hits.append(f.hit)
                    evidence.setdefault(f.hit.label, f.evidence)
                if listing.category in DRUG_CATEGORIES:
                    hits = [h for h in hits if h.label != "medical_claim_non_drug"]
                if confirmed_origin(text, listing):
                    hits = [h for h in hits if h.label != "false_origin_cert"]
            redundant = {SUBSUMES[h.label] for h in hits if h.label in SUBSUMES}
            hits = [h for h in hits if h.label not in redundant]
            out.append(_summarise(text, hits, evidence))
        return out

    def _model_hits(self, texts: list[str]) -> tuple[list[list[ClaimHit]], object]:
        """(the classifier's hits per text, its probabilities) in one batch; no hits and None
        without a classifier. Until session 7 the model could not veto a rule hit: ft3 in int8
        scored Whisper's "Disturbo-T cure diabetes and lower your blood pressure" < 0.05 on every
        label; ft4 in float gives it 0.90 (medical_claim_non_drug), and the veto needs < 0.01."""
        if self.classifier is None or not texts:
            return [[] for _ in texts], None
        combined = self.rules is not None
        if hasattr(self.classifier, "hits_and_proba"):  # the fine-tuned model: spans from its attention
            return self.classifier.hits_and_proba(texts, combined=combined)
        if hasattr(self.classifier, "hits_batch"):
            return self.classifier.hits_batch(texts, combined=combined), None
        probs = self.classifier.proba(texts)
        return [self.classifier.hits_from_proba(t, probs[i], combined=combined) for i, t in enumerate(texts)], probs

    def detect_batch(self, texts: Sequence[str], langs: Sequence[str | None] | None = None) -> list[list[ClaimHit]]:
        return [list(c.hits) for c in self.classify_batch(texts, langs)]

    def classify(self, text: str, lang: str | None = None, listing: Listing | None = None) -> Classification:
        return self.classify_batch([text], [lang], [listing])[0]

    def detect(self, text: str, lang: str | None = None) -> list[ClaimHit]:
        return list(self.classify(text, lang).hits)


class ListingDetector:
    """A ClaimDetector for the product on sale: `detector`'s hits plus the listing checks of the
    policy above, for every sentence. How `scan --listing` and `monitor --listing` check
    transcripts and on-screen text against a listing."""

    def __init__(self, listing: Listing, rules: RuleDetector | None = None, classifier=None):
        self.listing = listing
        self.combined = CombinedDetector(rules if rules is not None or classifier is not None else RuleDetector(),
                                         classifier)
        self.name = self.combined.name + "+listing"

    def detect(self, text: str, lang: str | None = None) -> list[ClaimHit]:
        return list(self.combined.classify(text, lang, self.listing).hits)

    def detect_batch(self, texts: Sequence[str], langs: Sequence[str | None] | None = None) -> list[list[ClaimHit]]:
        return [list(c.hits) for c in self.combined.classify_batch(texts, langs, [self.listing] * len(texts))]


def load_listing(path) -> Listing:
    """A listing from a JSON file (the fields of claims.listing.Listing); a clear error naming the
    file when it is missing, not JSON or not a valid listing."""
    import json
    from pathlib import Path

    from .listing import ListingError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ListingError(f"{path}: cannot read listing: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ListingError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        return Listing.from_dict(data)
    except ListingError as exc:
        raise ListingError(f"{path}: {exc}") from None
