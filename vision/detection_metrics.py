"""Scores of a two-class detector (1 = synthetic / spoof, 0 = real / bona fide) -> AUC, EER, accuracy.

Shared by the synthetic-image probe and the synthetic-voice network, so both report the same
figures the same way. No sklearn: these are a few lines each, and the EER is computed on the
exact ROC (no interpolation) so small evaluation sets give honest, coarse numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["DetectionReport", "roc_auc", "equal_error_rate", "evaluate_scores"]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    y, s = np.asarray(labels).astype(bool), np.asarray(scores, np.float64)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(EER, threshold): where the false-accept rate on negatives meets the miss rate on positives.

    Thresholds are the scores themselves ("positive when score >= t"); the EER is the mean of the
    two rates at the threshold where they are closest."""
    y, s = np.asarray(labels).astype(bool), np.asarray(scores, np.float64)
    if not y.any() or y.all():
        return float("nan"), float("nan")
    best = (2.0, 0.0, 0.5)
    for t in np.unique(s):
        far = float((s[~y] >= t).mean())
        frr = float((s[y] < t).mean())
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2, float(t))
    return best[1], best[2]


@dataclass(frozen=True)
class DetectionReport:
    n_real: int
    n_fake: int
    auc: float
    eer: float
    eer_threshold: float
    threshold: float  # the operating threshold accuracy / fpr / tpr are given at
    accuracy: float
    fpr: float  # real items scored at or above the threshold
    tpr: float  # synthetic items scored at or above the threshold

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def summary(self) -> str:
        return (f"{self.n_real} real, {self.n_fake} synthetic: AUC {self.auc:.3f}, EER {self.eer:.1%} "
                f"(at {self.eer_threshold:.3f}); at threshold {self.threshold:.3f}: accuracy {self.accuracy:.1%}, "
                f"FPR {self.fpr:.1%}, TPR {self.tpr:.1%}")


def evaluate_scores(labels, scores, threshold: float = 0.5) -> DetectionReport:
    y, s = np.asarray(labels).astype(bool), np.asarray(scores, np.float64)
    eer, t_eer = equal_error_rate(y, s)
    pred = s >= threshold
    return DetectionReport(
        n_real=int((~y).sum()), n_fake=int(y.sum()), auc=roc_auc(y, s), eer=eer, eer_threshold=t_eer,
        threshold=float(threshold), accuracy=float((pred == y).mean()) if len(y) else float("nan"),
        fpr=float(pred[~y].mean()) if (~y).any() else float("nan"),
        tpr=float(pred[y].mean()) if y.any() else float("nan"))
