"""`liveguard claims report`: rules, the model and both on the held-out splits, side by side.

For each split file: micro precision/recall/F1, macro F1, the false-positive rate on lawful
(unlabelled) items, recall per kind of item (direct, indirect, evasion, ASR-noised, multi-segment)
and micro-F1 per writer or source. On a split with no labelled item (speech that sells nothing)
only the FPR column and the per-label false positives mean anything. Multi-segment items are
checked as the product checks them: each segment alone and joined with the one or two before it
(pipeline.findings), not as one string.
"""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["run_report", "format_report"]

KINDS = ("direct", "indirect", "evasion", "asr_slip", "asr_noised", "multi", "public_quote", "public_paraphrase",
         "positive")


def _predict(detector, items) -> list[set[str]]:
    """Labels per item; an item with `segments` is checked segment by segment with context, as
    scan and monitor do (a label counts when any check of its segments finds it)."""
    from asr.types import Segment
    from pipeline.findings import find_claims

    from claims.listing import Listing

    flat = [it for it in items if not it.segments]
    listings = [Listing.from_dict(it.listing) if it.listing else None for it in flat]
    results = detector.classify_batch([it.text for it in flat], [it.lang for it in flat], listings) if flat else []
    by_id = {id(it): set(r.labels) for it, r in zip(flat, results)}
    out = []
    for it in items:
        if not it.segments:
            out.append(by_id[id(it)])
            continue
        segs = [Segment(stream_id="eval", t0=2.0 * k, t1=2.0 * k + 1.5, text=t, lang=it.lang or "", avg_logprob=0.0,
                        no_speech_prob=0.0, compression_ratio=1.0, hallucination=False, hallucination_reason=None,
                        model_id="eval") for k, t in enumerate(it.segments)]
        out.append({f.label for f in find_claims(segs, detector, "eval")})
    return out


def run_report(files: list[str | Path], detectors: dict[str, object]) -> dict:
    from claims.evaluate import evaluate, evaluate_by, load_items

    report: dict = {}
    for f in files:
        items = load_items(f)
        report[str(f)] = {}
        for name, det in detectors.items():
            pred = _predict(det, items)
            overall = evaluate([it.labels for it in items], pred, kinds=[it.kind for it in items])
            by_writer = evaluate_by(items, pred, lambda it: it.writer or "-")
            report[str(f)][name] = {"overall": overall.to_dict(),
                                    "writers": {w: round(r.micro_f1, 3) for w, r in by_writer.items()}}
    return report


def format_report(report: dict) -> str:
    lines = []
    for f, per in report.items():
        lines.append(f"== {f}")
        head = f"{'detector':10s} {'P':>6s} {'R':>6s} {'F1':>6s} {'macroF1':>7s} {'FPR':>6s}  " + \
            " ".join(f"{k[:10]:>10s}" for k in KINDS)
        lines.append(head)
        for name, r in per.items():
            o = r["overall"]
            rk = o["recall_by_kind"]
            lines.append(f"{name:10s} {o['micro']['precision']:6.3f} {o['micro']['recall']:6.3f} {o['micro']['f1']:6.3f} "
                         f"{o['macro_f1']:7.3f} {o['fpr_unlabelled']:6.3f}  " +
                         " ".join(f"{rk[k]:10.3f}" if k in rk else f"{'-':>10s}" for k in KINDS))
        lines.append(f"{'per label':28s} " + " ".join(f"{n:>15s}" for n in per))
        labels = next(iter(per.values()))["overall"]["per_label"]
        for lab in labels:
            cells = []
            for r in per.values():
                s = r["overall"]["per_label"][lab]
                cells.append(f"{s['f1']:.2f} ({s['tp']}/{s['support']}, fp {s['fp']})".rjust(15))
            if labels[lab]["support"] or any(r["overall"]["per_label"][lab]["fp"] for r in per.values()):
                lines.append(f"{lab:28s} " + " ".join(cells))
        writers = next(iter(per.values()))["writers"]
        lines.append("micro-F1 per writer/source: " + "; ".join(
            f"{w}: " + "/".join(f"{r['writers'][w]:.2f}" for r in per.values()) for w in writers))
    return "\n".join(lines)


def main_json(report: dict) -> str:
    return json.dumps(report, indent=1, ensure_ascii=False)
