"""The fine-tuned claims model as a ClaimDetector: length-batched inference, calibrated scores, spans.

Per sentence: normalise (claims.normalize: evasion undone, with a map back to the words as
written) -> e5 tokens -> ClaimsNet -> per label a logit, Platt-scaled to a calibrated
probability, and the label's attention over the tokens. A label fires at its threshold (the
model alone) or its combined threshold (added to the rules, the product default). The hit's
span is the smallest run of tokens holding half the label's attention (at most MAX_SPAN_TOKENS
around the peak), mapped back to the original text: the words that drove the decision.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from liveguard.errors import ConfigError, ModelError

from .normalize import normalize
from .taxonomy import LABELS
from .types import ClaimHit

__all__ = ["ModelDetector", "ModelOutput", "predict", "attention_span"]

BATCH = 32
PAD_SLACK = 1.3
INFER_MAX_TOKENS = 256
MAX_SPAN_TOKENS = 12
ATTENTION_MASS = 0.5


@dataclass
class ModelOutput:
    logits: np.ndarray                  # (n, L)
    attention: list[np.ndarray]          # per text, (T_i, L) over its tokens (specials included)
    spans: list[list[tuple[int, int]]]   # per text, per token: [start, end) in the normalised text
    norms: list                          # per text, its claims.normalize result


def predict(net, tokenizer, texts: Sequence[str], max_length: int = 128, batch: int = BATCH) -> ModelOutput:
    """Run the network over `texts` in length-sorted batches (less padding); results in input order."""
    import torch

    norms = [normalize(t) for t in texts]
    enc = tokenizer.encode([n.text for n in norms], max_length=max_length)
    lengths = enc.mask.sum(1)
    n_labels = net.out_b.shape[0]
    logits = np.zeros((len(texts), n_labels), np.float32)
    attention: list[np.ndarray] = [np.zeros((0, n_labels), np.float32)] * len(texts)
    with torch.inference_mode():
        for idx in length_batches(lengths, batch):
            T = int(lengths[idx].max())
            ids = torch.from_numpy(enc.ids[idx, :T])
            mask = torch.from_numpy(enc.mask[idx, :T])
            z, a = net(ids, mask)
            logits[idx] = z.float().numpy()
            a = a.float().numpy()
            for row, j in enumerate(idx):
                attention[j] = a[row, :int(lengths[j])]
    return ModelOutput(logits, attention, enc.spans, norms)


def length_batches(lengths: np.ndarray, batch: int = BATCH, slack: float = PAD_SLACK) -> list[np.ndarray]:
    """Indices in ascending length, cut into batches of at most `batch` whose padded size stays
    within `slack` x their real tokens. A window's sentences run from 5 to 200 tokens; one batch
    padded to its longest spent 40% of the encoder on padding (measured on the test texts)."""
    order = np.argsort(lengths, kind="stable")
    out, cur, real = [], [], 0
    for j in order:
        n = int(lengths[j])
        if cur and (len(cur) >= batch or (len(cur) + 1) * n > slack * (real + n)):
            out.append(np.array(cur))
            cur, real = [], 0
        cur.append(j)
        real += n
    if cur:
        out.append(np.array(cur))
    return out


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def attention_span(att: np.ndarray, token_spans: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """[start, end) in the normalised text covered by the tokens holding ATTENTION_MASS of `att`
    (one label's attention over the tokens), kept within MAX_SPAN_TOKENS of the peak."""
    real = [i for i, (a, b) in enumerate(token_spans) if b > a]
    if not real:
        return None
    w = np.array([att[i] for i in real], np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(len(real), 1 / len(real))
    peak = int(np.argmax(w))
    chosen, mass = [], 0.0
    for k in np.argsort(-w):
        if abs(int(k) - peak) > MAX_SPAN_TOKENS // 2:
            continue
        chosen.append(int(k))
        mass += w[k]
        if mass >= ATTENTION_MASS or len(chosen) >= MAX_SPAN_TOKENS:
            break
    lo, hi = min(chosen), max(chosen)
    return token_spans[real[lo]][0], token_spans[real[hi]][1]


PRECISIONS = ("auto", "fp32", "ort", "bf16", "int8")
# A rule hit is dropped when the model gives its label a calibrated probability below this (models
# built before ft9; since then each build calibrates its own, `rule_veto` in its meta). On the
# calibration writers (never the test split) rules + model flag 4.7% of lawful talk, 2.6% with
# the veto at 0.01, F1 0.873 -> 0.879; 0.01 also drops the fewest true hits of the values that
# meet 3% there with a margin (0.001: 2.8%). Held-out test: 4.6% -> 2.5%, F1 0.811 -> 0.815.
RULE_VETO = 0.01


def resolve_precision(precision: str) -> str:
    """The arithmetic the model runs in. The thresholds are calibrated on float outputs, and
    what runs must give those outputs: fp32, or bf16 where the CPU has it natively (same
    decisions, within 0.02 of fp32's probabilities on the test split, faster). int8 is fastest
    and costs accuracy, so it is only for a user who trades that for speed: with ONNX Runtime
    (per-channel weights, claims.ort_runtime.quantize_body) ft11 runs at 152 sentences/s combined
    (float 112) and scores 0.841 at 0.8% on the test split (float 0.849 at 1.0%; session 13);
    without it, PyTorch's per-tensor dynamic quantisation moved logits by up to ~6 (model alone
    0.754 against 0.804 in session 7). "ort": fp32 run by ONNX Runtime (claims.ort_runtime;
    the same logits within 2e-5; 1.1-1.2x PyTorch's fp32 speed on 2 idle cores, more on busy ones). "auto":
    `$LIVEGUARD_CLAIMS_PRECISION` if set, else bf16 where native, else ort (fp32 where onnx or
    onnxruntime is missing)."""
    import os

    from .finetune import cpu_has_bf16
    from .ort_runtime import ort_available

    if precision == "auto":
        precision = os.environ.get("LIVEGUARD_CLAIMS_PRECISION", "auto").strip().lower() or "auto"
    if precision not in PRECISIONS:
        raise ConfigError(f"claims model precision {precision!r} (LIVEGUARD_CLAIMS_PRECISION?): one of "
                          f"{', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "ort" if ort_available() else "fp32"
    return precision


class ModelDetector:
    """ClaimDetector over a ClaimsNet. `load()` reads the built model from the cache (or a directory)."""

    def __init__(self, net, tokenizer, meta: dict, precision: str = "auto", model_dir: str | Path | None = None):
        from .model import bf16_encoder, quantize_for_cpu
        from .ort_runtime import ort_available, ort_net

        self.precision = resolve_precision(precision)
        self.labels = tuple(meta["labels"])
        unknown = set(self.labels) - set(LABELS)
        if unknown:
            raise ModelError(f"claims model labels are not taxonomy ids: {sorted(unknown)}")
        if self.precision == "int8":
            # ONNX Runtime's per-channel int8 where installed (0.9 points of F1), else PyTorch's per tensor (5)
            net = ort_net(net, model_dir, int8=True) if ort_available() else quantize_for_cpu(net)
        elif self.precision == "bf16":
            net = bf16_encoder(net)
        elif self.precision == "ort":
            net = ort_net(net, model_dir)  # its graph is kept in model_dir, beside the weights
        self.net = net
        self.tokenizer = tokenizer
        self.meta = meta
        # Trained on up to 96 tokens; a segment checked with its two predecessors can be longer and its
        # newest words come last, so inference reads further (e5's positions go to 512).
        self.max_length = min(max(int(meta.get("max_length", 128)), INFER_MAX_TOKENS),
                              net.bert.embeddings.position_embeddings.num_embeddings)
        platt = meta.get("platt") or {}
        self.platt_a = np.array([platt.get(lab, [1.0, 0.0])[0] for lab in self.labels], np.float32)
        self.platt_b = np.array([platt.get(lab, [1.0, 0.0])[1] for lab in self.labels], np.float32)
        self.thresholds = np.array([meta["thresholds"].get(lab, 1.01) for lab in self.labels], np.float32)
        self.combined_thresholds = np.array([meta["combined_thresholds"].get(lab, 1.01) for lab in self.labels],
                                            np.float32)
        self.name = f"model:{meta.get('name', 'e5-claims')}@{meta.get('version', '1')}"
        # calibrated with the model since ft9 (claims.finetune.choose_rule_veto); older builds: 0.01
        self.rule_veto = float(meta.get("rule_veto", RULE_VETO))

    @classmethod
    def load(cls, model_dir: str | Path | None = None, precision: str = "auto") -> "ModelDetector":
        from models.e5_convert import read_e5

        from .build_model import check_built, claims_model_dir
        from .encoder import E5Tokenizer
        from .model import load_claims_net

        if model_dir is None:
            model_dir = claims_model_dir()
            check_built(model_dir)  # a stale default build is refused, with the command that fixes it
        ckpt = read_e5(words="q4")
        net, meta = load_claims_net(model_dir, ckpt)
        return cls(net, E5Tokenizer.from_checkpoint(ckpt), meta, precision=precision, model_dir=model_dir)

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.platt_a * logits + self.platt_b, -30, 30)))

    def run(self, texts: Sequence[str]) -> tuple[np.ndarray, ModelOutput]:
        import contextlib

        import torch

        bf16 = torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "bf16" else contextlib.nullcontext()
        with bf16:
            out = predict(self.net, self.tokenizer, texts, self.max_length)
        return self.calibrated(out.logits), out

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)), np.float32)
        return self.run(texts)[0]

    def hits_batch(self, texts: Sequence[str], combined: bool = False) -> list[list[ClaimHit]]:
        """Hits per text; `combined`: the thresholds for adding to the rules."""
        return self.hits_and_proba(texts, combined)[0]

    def hits_and_proba(self, texts: Sequence[str], combined: bool = False) -> tuple[list[list[ClaimHit]], np.ndarray]:
        """(hits per text, calibrated probabilities (n, labels)): the combined detector needs both."""
        if not texts:
            return [], np.zeros((0, len(self.labels)), np.float32)
        probs, out = self.run(texts)
        th = self.combined_thresholds if combined else self.thresholds
        result = []
        for i, text in enumerate(texts):
            hits = [self._hit(text, out, i, int(j), probs[i, j]) for j in np.flatnonzero(probs[i] >= th)]
            result.append([h for h in hits if h is not None])
        return result, probs

    def vetoes(self, label: str, prob_row: np.ndarray) -> bool:
        """Whether the model is sure enough that `label` is absent to drop a rule's hit of it."""
        j = self.labels.index(label) if label in self.labels else None
        return j is not None and float(prob_row[j]) < self.rule_veto

    def _hit(self, text: str, out: ModelOutput, i: int, j: int, score: float) -> ClaimHit | None:
        span = attention_span(out.attention[i][:, j], out.spans[i])
        if span is None:
            return None
        s, e = out.norms[i].to_original(*span)
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e <= s:
            return None
        # a sub-word token at an edge: widen to the whole Latin word ("ly 1000" -> "Normally 1000")
        while s > 0 and _latin(text[s - 1]) and _latin(text[s]):
            s -= 1
        while e < len(text) and _latin(text[e]) and _latin(text[e - 1]):
            e += 1
        lab = self.labels[j]
        return ClaimHit(label=lab, start=s, end=e, text=text[s:e], score=round(float(score), 4),
                        decided_by=self.name, legal_basis=LABELS[lab].legal_basis)

    def detect(self, text: str, lang: str | None = None) -> list[ClaimHit]:
        return self.hits_batch([text])[0]
