"""Claim detection for live-commerce transcripts: taxonomy, normalisation, rules, classifier, listings."""
from .classifier import ClassifierDetector, LinearHead
from .combined import Classification, CombinedDetector, ListingDetector, load_listing
from .evaluate import EvalReport, evaluate
from .listing import Listing, ListingError, ListingFinding, check_listing
from .normalize import Normalized, normalize
from .rules import RuleDetector, RuleFileError, RuleSet
from .taxonomy import LABELS, Label, get_label
from .types import ClaimDetector, ClaimHit

__all__ = [
    "Label", "LABELS", "get_label",
    "ClaimHit", "ClaimDetector",
    "normalize", "Normalized",
    "RuleSet", "RuleDetector", "RuleFileError",
    "ClassifierDetector", "LinearHead",
    "CombinedDetector", "Classification", "ListingDetector", "load_listing",
    "Listing", "ListingError", "ListingFinding", "check_listing",
    "evaluate", "EvalReport",
]
