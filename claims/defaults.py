"""The detector `scan`, `monitor` and the service use: rules and the fine-tuned model together.

`make_detector("combined")` (the default) is the rules plus the claims model under the combined
policy (claims/combined.py); `"rules"` is the rules alone (no model needed). A listing adds the
listing checks. The model is loaded once per process and shared (`shared_model`); `LazyModel`
defers the load to first use and pickles as its directory only, so detectors sent to Ray actors
(on-screen text checks) carry no weights.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

from .combined import CombinedDetector, ListingDetector
from .listing import Listing
from .rules import RuleDetector, RuleSet

__all__ = ["CLAIMS_MODES", "make_detector", "shared_model", "LazyModel"]

CLAIMS_MODES = ("combined", "rules")
_models: dict[str, object] = {}
_lock = threading.Lock()


def shared_model(model_dir: str | Path | None = None):
    """The process's ModelDetector for `model_dir` (default: the built model in the cache)."""
    from .model_detector import ModelDetector

    key = str(model_dir or "")
    with _lock:
        if key not in _models:
            _models[key] = ModelDetector.load(model_dir)
        return _models[key]


class LazyModel:
    """A ModelDetector stand-in that loads the shared model on first use (and after unpickling)."""

    def __init__(self, model_dir: str | Path | None = None):
        self.model_dir = str(model_dir) if model_dir else None

    def __getstate__(self):
        return {"model_dir": self.model_dir}

    def __setstate__(self, state):
        self.model_dir = state["model_dir"]

    @property
    def name(self) -> str:
        if self.model_dir is None:
            from .build_model import NAME, VERSION

            return f"model:{NAME}@{VERSION}"  # what the default build calls itself, without loading it
        return self.model.name

    @property
    def model(self):
        return shared_model(self.model_dir)

    def load(self) -> "LazyModel":
        self.model  # noqa: B018 - loads now (a missing or stale build fails here, at start)
        return self

    def hits_batch(self, texts: Sequence[str], combined: bool = False):
        return self.model.hits_batch(texts, combined=combined)

    def hits_and_proba(self, texts: Sequence[str], combined: bool = False):
        return self.model.hits_and_proba(texts, combined=combined)

    def vetoes(self, label: str, prob_row) -> bool:
        return self.model.vetoes(label, prob_row)

    def proba(self, texts: Sequence[str]):
        return self.model.proba(texts)

    def detect(self, text: str, lang: str | None = None):
        return self.model.detect(text, lang)


def make_detector(mode: str = "combined", ruleset: RuleSet | None = None, listing: Listing | None = None,
                  model_dir: str | Path | None = None, eager: bool = True):
    """The claims detector for `mode` ("combined" or "rules"); `eager`: load the model now, so a
    missing model is an error before any work starts."""
    if mode not in CLAIMS_MODES:
        raise ValueError(f"claims mode {mode!r}; one of {', '.join(CLAIMS_MODES)}")
    rules = RuleDetector(ruleset)
    model = None
    if mode == "combined":
        model = LazyModel(model_dir)
        if eager:
            model.load()
    if listing is not None:
        return ListingDetector(listing, rules=rules, classifier=model)
    if model is None:
        return rules
    return CombinedDetector(rules, model)
