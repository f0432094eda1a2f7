"""Threshold rules fitted on the whole calibration split, scored on writers the model never saw
(claims/data/corpus/held_back/: a dev set, never the test split), and how far each rule's
thresholds move when the calibration scores move a little (Gaussian noise of 0.05 logit, the size
of bf16-vs-fp32 differences; 6 draws).

    LIVEGUARD_CACHE=.cache/liveguard .venv/bin/python scripts/claims_threshold_dev.py [MODEL_DIR]

Session 11 (ft9 built in fp32, ~2.5 minutes on 2 cores): see docs/claims.md, "Session 11"."""
import glob, json, sys
from pathlib import Path
import numpy as np
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / 'scripts'))
from claims.corpus import items
from claims.evaluate import parse_item
from claims.finetune import combined_predictions, fit_platt
from claims.model_detector import ModelDetector
from claims.rules import RuleDetector
from claims_threshold_policy import POLICIES, thresholds

m = ModelDetector.load(sys.argv[1] if len(sys.argv) > 1 else None)
labels = list(m.labels); col = {l: j for j, l in enumerate(labels)}
rules = RuleDetector()
def mats(its):
    _, out = m.run([it.text for it in its])
    Y = np.zeros_like(out.logits); R = np.zeros_like(out.logits, dtype=bool)
    for i, it in enumerate(its):
        for l in it.labels:
            if l in col: Y[i, col[l]] = 1
        for h in rules.detect(it.text, it.lang):
            if h.label in col: R[i, col[h.label]] = True
    return out.logits, Y, R
calib = items('calib')
dev = [parse_item(l) for f in sorted(glob.glob(str(ROOT / 'claims/data/corpus/held_back/w*.jsonl'))) for l in open(f)]
if not dev:  # session 12 trained ft10 on session 11's dev writers: a new round of held-back writers is needed
    sys.exit('no dev writers in claims/data/corpus/held_back/ (see its README)')
Zc, Yc, Rc = mats(calib); Zd, Yd, Rd = mats(dev)
wc = np.array([it.writer or '-' for it in calib]); wd = np.array([it.writer for it in dev])
platt = [fit_platt(Zc[:, j], Yc[:, j]) for j in range(len(labels))]
a = np.array([p[0] for p in platt], np.float32); b = np.array([p[1] for p in platt], np.float32)
sig = lambda Z: 1 / (1 + np.exp(-np.clip(a * Z + b, -30, 30)))
Pc, Pd = sig(Zc), sig(Zd)
def score(pred, gold):
    tp, fp, fn = (pred & gold).sum(), (pred & ~gold).sum(), (~pred & gold).sum()
    law = ~gold.any(1)
    return 2 * tp / max(2 * tp + fp + fn, 1), tp / max(tp + fp, 1), tp / max(tp + fn, 1), pred[law].any(1).mean()
rng = np.random.default_rng(0)
for kind, t in [("greedy per-writer", 0.03), ("shift per-writer", 0.03), ("shift pooled", 0.03), ("shift pooled", 0.02)]:
    base = thresholds(kind, t, Pc, Yc, wc)
    f1s, moves = [], []
    for k in range(6):
        Zn = Zc + rng.normal(0, 0.05, Zc.shape).astype(np.float32)  # the size of bf16-vs-fp32 differences
        pl = [fit_platt(Zn[:, j], Yc[:, j]) for j in range(len(labels))]
        a2 = np.array([p[0] for p in pl], np.float32); b2 = np.array([p[1] for p in pl], np.float32)
        Pn = 1 / (1 + np.exp(-np.clip(a2 * Zn + b2, -30, 30)))
        th = thresholds(kind, t, Pn, Yc, wc)
        Pdn = 1 / (1 + np.exp(-np.clip(a2 * Zd + b2, -30, 30)))
        f1s.append(score(combined_predictions(Pdn, Rd, th, m.rule_veto, labels), Yd > 0)[0])
        moves.append(np.abs(np.minimum(th, 1) - np.minimum(base, 1)).max())
    print(f"{kind} {t}: dev F1 {np.mean(f1s):.3f} (min {np.min(f1s):.3f}, max {np.max(f1s):.3f}); largest threshold move mean {np.mean(moves):.2f}, max {np.max(moves):.2f}")
