"""Claims models, alone or with their logits averaged, recalibrated and scored on labelled files.

    .venv/bin/python scripts/claims_ensemble.py --model-dir A [--model-dir B ...] FILE...

The networks' logits are averaged, calibrated on the calibration split exactly as a build is
(`claims.finetune.calibrate`: Platt per label, thresholds, rule veto), then scored as `claims
report` scores (rules + model; multi-segment items with context). With one --model-dir it
recalibrates that model with the current calibration code: builds made under an older
calibration are compared on equal terms (for ft13 it reproduces `liveguard claims report` within
0.001). For questions, not for the product: how far two builds of one recipe land apart (seed
noise), and what averaging several builds would be worth (the ceiling of distilling them into one;
session 17: +0.009 on dev for three, docs/claims.md).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class MeanNet:
    """net(ids, mask) -> (mean logits, mean attention) over networks that share e5's tokenizer."""

    def __init__(self, nets):
        self.nets = nets
        self.bert = nets[0].bert
        self.out_b = nets[0].out_b

    def __call__(self, ids, mask):
        outs = [n(ids, mask) for n in self.nets]
        return sum(o[0] for o in outs) / len(outs), sum(o[1] for o in outs) / len(outs)


def _load(dirs):
    from claims.encoder import E5Tokenizer
    from claims.model import load_claims_net
    from claims.ort_runtime import ort_available, ort_net
    from models.e5_convert import read_e5

    ckpt = read_e5(words="q4")
    nets, metas = [], []
    for d in dirs:
        net, meta = load_claims_net(d, ckpt)
        if metas and list(meta["labels"]) != list(metas[0]["labels"]):
            raise SystemExit(f"{d}: other labels than {dirs[0]}")
        nets.append(ort_net(net, d) if ort_available() else net)
        metas.append(meta)
    return MeanNet(nets), E5Tokenizer.from_checkpoint(ckpt), metas


def run(args) -> int:
    from claims import CombinedDetector, RuleDetector, RuleSet
    from claims.corpus import items
    from claims.finetune import FinetuneOptions, calibrate
    from claims.model_detector import ModelDetector
    from liveguard.claims_report import format_report, run_report

    net, tok, metas = _load(args.model_dir)
    opts = FinetuneOptions.of_build(metas[0])
    rules = RuleDetector(RuleSet.load_default())
    cal = calibrate(net, tok, items("calib"), rules, opts)
    meta = {**metas[0], **cal, "name": f"mean-of-{len(metas)}", "version": "x"}
    print(f"rule veto {cal['rule_veto']}; thresholds {cal['thresholds']}", flush=True)
    md = ModelDetector(net, tok, meta, precision="fp32")  # fp32: the networks are already in their runtime
    dets = {"model": CombinedDetector(None, md, use_listing=False), "combined": CombinedDetector(rules, md)}
    print(format_report(run_report(args.files, dets)))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", action="append", required=True)
    ap.add_argument("files", nargs="+")
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
