"""Training of the default classifier head (`liveguard claims train`).

Steps: featurize every train item once; hold out CALIB_FRACTION of the templates (whole
templates, chosen by seed) and fit on the rest; pick each label's threshold on the held-out
part (max F1, never below 0.3); refit on the whole train split with the same options and keep
those thresholds. The test split is never read here.
"""
from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .classifier import (DEFAULT_HEAD, MODEL_LABELS, Embedder, E5Embedder, LinearHead, TrainOptions, calibrate_thresholds,
                         featurize, fit_logistic)
from .evaluate import EvalItem, evaluate

CALIB_FRACTION = 0.2
DEFAULT_SEED = 7


def label_matrix(items: Sequence[EvalItem], labels: Sequence[str]) -> np.ndarray:
    return np.array([[1.0 if lab in it.labels else 0.0 for lab in labels] for it in items], np.float32)


def split_by_template(items: Sequence[EvalItem], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (fit, calib): `fraction` of the templates (items without one count alone) go to calib."""
    keys = [it.template or f"#{i}" for i, it in enumerate(items)]
    uniq = sorted(set(keys))
    random.Random(seed).shuffle(uniq)
    held = set(uniq[:round(len(uniq) * fraction)])
    fit = [i for i, k in enumerate(keys) if k not in held]
    cal = [i for i, k in enumerate(keys) if k in held]
    return fit, cal


def data_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train_head(items: Sequence[EvalItem], embedder: Embedder | None = None, opts: TrainOptions = TrainOptions(),
               seed: int = DEFAULT_SEED, features: np.ndarray | None = None,
               labels: Sequence[str] | None = None, rules=None) -> tuple[LinearHead, dict]:
    """Train and calibrate a head; returns (head, report dict for the sidecar).

    With `rules` (a RuleDetector), a second set of thresholds is calibrated for the combined
    policy: the model's threshold where `rules OR model` has the best F1 on the held-out part.
    """
    if not items:
        raise ValueError("no training items")
    labels = tuple(labels or MODEL_LABELS)
    embedder = embedder if embedder is not None else E5Embedder()
    t0 = time.perf_counter()
    X = features if features is not None else featurize([it.text for it in items], embedder)
    Y = label_matrix(items, labels)
    fit, cal = split_by_template(items, CALIB_FRACTION, seed)
    if not cal or not fit:
        fit = cal = list(range(len(items)))  # too few templates to hold any out
    W, b = fit_logistic(X[fit], Y[fit], opts)
    P = 1.0 / (1.0 + np.exp(-(X[cal] @ W + b)))
    th = calibrate_thresholds(P, Y[cal])
    cth = None
    if rules is not None:
        R = np.array([[1.0 if lab in {h.label for h in rules.detect(items[i].text, items[i].lang)} else 0.0
                       for lab in labels] for i in cal], np.float32)
        cth = calibrate_thresholds(P, Y[cal], base=R)
    calib = evaluate([items[i].labels for i in cal], [{lab for lab, p, t in zip(labels, row, th) if p >= t} for row in P],
                     labels=labels)
    W, b = fit_logistic(X, Y, opts)
    head = LinearHead(labels, W, b, th, encoder=getattr(embedder, "name", "custom"), combined_thresholds=cth)
    report = {
        "trained_on": {"n_items": len(items), "n_fit": len(fit), "n_calib": len(cal), "seed": seed,
                       "options": vars(opts)},
        "calibration": {"micro_f1": round(calib.micro_f1, 4), "macro_f1": round(calib.macro_f1, 4),
                        "fpr_unlabelled": round(calib.fpr_unlabelled, 4)},
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    head.meta.update(report)
    return head, report


__all__ = ["train_head", "split_by_template", "label_matrix", "data_hash", "DEFAULT_HEAD"]
