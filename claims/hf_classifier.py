"""A `transformers` sequence classifier for deployments that have a fine-tunable checkpoint.

No fine-tunable Chinese or multilingual BERT installs from the package registries these
machines reach (see MODELS.md), so nothing here is shipped with weights: this is the loader,
the detector and the fine-tuning loop for a checkpoint directory the user brings
(`save_pretrained` layout: config.json, model weights, tokenizer files). The loop is tested on
a tiny randomly initialised BERT built in the test.

    liveguard claims train --backend hf --init path/to/checkpoint --out claims-hf-model
    liveguard claims eval test.jsonl --hf-checkpoint claims-hf-model

The output directory holds the fine-tuned model, its tokenizer and `liveguard_claims.json`
(label order, per-label thresholds calibrated on held-out train templates, training data hash).
Text is normalised (claims.normalize) before tokenisation, as for the other detectors.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from liveguard.errors import ModelError

from .classifier import MODEL_LABELS, calibrate_thresholds
from .evaluate import EvalItem
from .normalize import normalize
from .taxonomy import LABELS
from .types import ClaimHit

SIDECAR = "liveguard_claims.json"
SIDECAR_FORMAT = 1


@dataclass
class HFTrainOptions:
    epochs: int = 3
    lr: float = 5e-5
    batch_size: int = 16
    max_length: int = 128
    weight_decay: float = 0.01
    seed: int = 7
    calib_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.lr <= 0 or self.batch_size < 1 or self.max_length < 8:
            raise ValueError(f"bad HFTrainOptions {self}: epochs >= 1, lr > 0, batch_size >= 1, max_length >= 8")


def _import():
    try:
        import torch
        import transformers
    except ImportError as exc:  # transformers is an optional dependency
        raise ModelError("the transformers classifier needs `transformers` (pip install transformers==4.57.1)") from exc
    return torch, transformers


def _load_pretrained(path: str | Path, labels: Sequence[str] | None = None):
    torch, tf = _import()
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a transformers checkpoint directory (no config.json)")
    kwargs = {"local_files_only": True}
    if labels is not None:
        kwargs.update(num_labels=len(labels), problem_type="multi_label_classification",
                      id2label=dict(enumerate(labels)), label2id={lab: i for i, lab in enumerate(labels)},
                      ignore_mismatched_sizes=True)
    try:
        tokenizer = tf.AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = tf.AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot load transformers checkpoint {path}: {exc}") from exc
    return tokenizer, model


class HFClassifierDetector:
    """ClaimDetector over a fine-tuned multi-label AutoModelForSequenceClassification."""

    def __init__(self, model, tokenizer, labels: Sequence[str], thresholds: np.ndarray, name: str = "model:hf@1",
                 max_length: int = 128, batch_size: int = 32):
        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ModelError(f"checkpoint labels are not taxonomy ids: {sorted(unknown)}")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.labels, self.thresholds = tuple(labels), np.asarray(thresholds, np.float32)
        self.name, self.max_length, self.batch_size = name, max_length, batch_size

    @classmethod
    def load(cls, path: str | Path) -> "HFClassifierDetector":
        path = Path(path)
        tokenizer, model = _load_pretrained(path)
        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        thresholds = np.full(len(labels), 0.5, np.float32)
        side = path / SIDECAR
        version = "1"
        if side.is_file():
            meta = json.loads(side.read_text(encoding="utf-8"))
            thresholds = np.array([meta["thresholds"].get(lab, 0.5) for lab in labels], np.float32)
            version = str(meta.get("version", "1"))
        return cls(model, tokenizer, labels, thresholds, name=f"model:hf-{path.name}@{version}")

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        torch, _ = _import()
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch_size):
                chunk = [normalize(t).text for t in texts[i:i + self.batch_size]]
                enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt")
                out.append(torch.sigmoid(self.model(**enc).logits).float().numpy())
        return np.vstack(out) if out else np.zeros((0, len(self.labels)), np.float32)

    def hits_from_proba(self, text: str, probs: np.ndarray, combined: bool = False) -> list[ClaimHit]:
        stripped = text.strip()
        start = text.find(stripped) if stripped else 0
        return [ClaimHit(label=lab, start=start, end=start + len(stripped), text=stripped, score=round(float(p), 4),
                         decided_by=self.name, legal_basis=LABELS[lab].legal_basis)
                for lab, p, th in zip(self.labels, probs, self.thresholds) if p >= th and stripped]

    def detect(self, text: str, lang: str | None = None) -> list[ClaimHit]:
        return self.hits_from_proba(text, self.proba([text])[0])


def _run_epochs(model, tokenizer, texts, Y, opts: HFTrainOptions, torch) -> list[float]:
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order = list(range(len(texts)))
    rng = random.Random(opts.seed)
    losses = []
    for _ in range(opts.epochs):
        rng.shuffle(order)
        total = 0.0
        for i in range(0, len(order), opts.batch_size):
            idx = order[i:i + opts.batch_size]
            enc = tokenizer([texts[j] for j in idx], padding=True, truncation=True, max_length=opts.max_length,
                            return_tensors="pt")
            loss = loss_fn(model(**enc).logits, torch.tensor(Y[idx]))
            optim.zero_grad()
            loss.backward()
            optim.step()
            total += loss.detach().item() * len(idx)
        losses.append(total / len(order))
    model.eval()
    return losses


def train_hf(init: str | Path, items: Sequence[EvalItem], out_dir: str | Path,
             opts: HFTrainOptions = HFTrainOptions()) -> dict:
    """Fine-tune the checkpoint at `init` on `items`; save model, tokenizer and sidecar to `out_dir`."""
    from .train import label_matrix, split_by_template

    torch, tf = _import()
    if not items:
        raise ValueError("no training items")
    tf.set_seed(opts.seed)
    labels = MODEL_LABELS
    texts = [normalize(it.text).text for it in items]
    Y = label_matrix(items, labels)
    fit, cal = split_by_template(items, opts.calib_fraction, opts.seed)
    if not fit or not cal:
        fit = cal = list(range(len(items)))
    t0 = time.perf_counter()
    tokenizer, model = _load_pretrained(init, labels)
    losses = _run_epochs(model, tokenizer, [texts[i] for i in fit], Y[fit], opts, torch)
    det = HFClassifierDetector(model, tokenizer, labels, np.full(len(labels), 0.5, np.float32),
                               max_length=opts.max_length)
    thresholds = calibrate_thresholds(det.proba([items[i].text for i in cal]), Y[cal])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    data_sha = hashlib.sha256("\n".join(f"{it.text}\t{sorted(it.labels)}" for it in items).encode()).hexdigest()
    report = {"format": SIDECAR_FORMAT, "version": "1", "init": str(init), "labels": list(labels),
              "thresholds": {lab: round(float(t), 3) for lab, t in zip(labels, thresholds)},
              "train_data_sha256": data_sha, "n_fit": len(fit), "n_calib": len(cal), "epoch_losses": losses,
              "options": asdict(opts), "train_seconds": round(time.perf_counter() - t0, 1)}
    (out / SIDECAR).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report
