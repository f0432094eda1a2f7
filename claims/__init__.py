"""Claim detection for live-commerce transcripts: taxonomy, normalisation, rules."""
from .normalize import Normalized, normalize
from .rules import RuleDetector, RuleFileError, RuleSet
from .taxonomy import LABELS, Label, get_label
from .types import ClaimDetector, ClaimHit

__all__ = [
    "Label", "LABELS", "get_label",
    "ClaimHit", "ClaimDetector",
    "normalize", "Normalized",
    "RuleSet", "RuleDetector", "RuleFileError",
]
