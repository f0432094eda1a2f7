"""Claim detection for live-commerce transcripts: taxonomy, normalisation, rules, the fine-tuned model, listings."""
from .classifier import ClassifierDetector, LinearHead
from .combined import Classification, CombinedDetector, ListingDetector, load_listing
from .defaults import CLAIMS_MODES, LazyModel, make_detector
from .model_detector import ModelDetector
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
    "make_detector", "CLAIMS_MODES", "LazyModel", "ModelDetector",
    "Listing", "ListingError", "ListingFinding", "check_listing",
    "evaluate", "EvalReport",
]
