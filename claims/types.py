"""Shared result type and the detector interface (rules now, a classifier later)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ClaimHit:
    """One detected claim.

    `start`/`end` are character offsets into the ORIGINAL input text and
    `text == original[start:end]`, so moderators see exactly what was said.
    `decided_by` names the deciding component, e.g. "rule:zh.medical.cure_disease@1"
    or a model id, so a decision can be traced and appealed.
    """

    label: str
    start: int
    end: int
    text: str
    score: float
    decided_by: str
    legal_basis: str


@runtime_checkable
class ClaimDetector(Protocol):
    """Anything that turns a transcript segment into claim hits."""

    name: str

    def detect(self, text: str, lang: str | None = None) -> list[ClaimHit]:
        ...
