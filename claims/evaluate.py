"""Multi-label detection metrics over a labelled set, and the loader for its JSON lines.

Definitions (per label L, over items):
  tp = items with L in gold and in predicted;  fp = predicted, not gold;  fn = gold, not predicted
  precision = tp / (tp + fp)  (0 when nothing was predicted)
  recall    = tp / (tp + fn)  (0 when there is no support)
  F1        = 2PR / (P + R)   (0 when P + R == 0)
  micro     = P/R/F1 over the summed tp/fp/fn of all labels
  macro F1  = mean of per-label F1 over the labels that have gold support in the set
  FPR (unlabelled) = share of items with NO gold label that got at least one predicted label;
              also reported per `kind` (hard_negative, negative, ...) when items carry one.
  recall by kind = micro recall over the labelled items of each `kind` (positive, evasion).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from liveguard.errors import ConfigError

from .taxonomy import LABELS, TEXT_LABELS

MAX_LINE_CHARS = 100_000


@dataclass(frozen=True)
class EvalItem:
    text: str
    labels: frozenset[str]
    lang: str | None = None
    kind: str | None = None
    listing: dict | None = None
    template: str | None = None
    writer: str | None = None      # who wrote it (a writer id, "template", "public:<source>")
    source: str | None = None      # provenance: URL / case number of public phrasing, a writer's file
    segments: tuple[str, ...] = ()  # a claim spoken across pauses, as the transcript cut it


@dataclass(frozen=True)
class LabelScore:
    label: str
    tp: int
    fp: int
    fn: int
    support: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class EvalReport:
    n_items: int
    per_label: tuple[LabelScore, ...]
    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_f1: float
    n_unlabelled: int
    fpr_unlabelled: float
    fpr_by_kind: dict[str, float] = field(default_factory=dict)
    recall_by_kind: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "n_items": self.n_items,
            "micro": {"precision": self.micro_precision, "recall": self.micro_recall, "f1": self.micro_f1},
            "macro_f1": self.macro_f1,
            "n_unlabelled": self.n_unlabelled,
            "fpr_unlabelled": self.fpr_unlabelled,
            "fpr_by_kind": dict(self.fpr_by_kind),
            "recall_by_kind": dict(self.recall_by_kind),
            "per_label": {s.label: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support,
                                    "tp": s.tp, "fp": s.fp, "fn": s.fn} for s in self.per_label},
        }


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(gold: Sequence[Iterable[str]], pred: Sequence[Iterable[str]],
             labels: Iterable[str] | None = None, kinds: Sequence[str | None] | None = None) -> EvalReport:
    """Score predicted label sets against gold label sets (same order, same length)."""
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} items, pred has {len(pred)}")
    if kinds is not None and len(kinds) != len(gold):
        raise ValueError(f"kinds has {len(kinds)} items, gold has {len(gold)}")
    gold_sets = [frozenset(g) for g in gold]
    pred_sets = [frozenset(p) for p in pred]
    label_ids = list(labels) if labels is not None else list(TEXT_LABELS)  # text can carry only these
    per: list[LabelScore] = []
    sum_tp = sum_fp = sum_fn = 0
    for lab in label_ids:
        tp = sum(1 for g, p in zip(gold_sets, pred_sets) if lab in g and lab in p)
        fp = sum(1 for g, p in zip(gold_sets, pred_sets) if lab not in g and lab in p)
        fn = sum(1 for g, p in zip(gold_sets, pred_sets) if lab in g and lab not in p)
        prec, rec = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        per.append(LabelScore(lab, tp, fp, fn, tp + fn, prec, rec, _f1(prec, rec)))
        sum_tp, sum_fp, sum_fn = sum_tp + tp, sum_fp + fp, sum_fn + fn
    micro_p, micro_r = _ratio(sum_tp, sum_tp + sum_fp), _ratio(sum_tp, sum_tp + sum_fn)
    supported = [s.f1 for s in per if s.support]
    unlabelled = [i for i, g in enumerate(gold_sets) if not g]
    fp_items = [i for i in unlabelled if pred_sets[i]]
    by_kind: dict[str, float] = {}
    if kinds is not None:
        for kind in sorted({kinds[i] for i in unlabelled if kinds[i]}):
            idx = [i for i in unlabelled if kinds[i] == kind]
            by_kind[kind] = _ratio(sum(1 for i in idx if pred_sets[i]), len(idx))
    recall_kind: dict[str, float] = {}
    if kinds is not None:
        labelled = [i for i, g in enumerate(gold_sets) if g]
        for kind in sorted({kinds[i] for i in labelled if kinds[i]}):
            idx = [i for i in labelled if kinds[i] == kind]
            found = sum(len(gold_sets[i] & pred_sets[i]) for i in idx)
            recall_kind[kind] = _ratio(found, sum(len(gold_sets[i]) for i in idx))
    return EvalReport(
        n_items=len(gold_sets), per_label=tuple(per),
        micro_precision=micro_p, micro_recall=micro_r, micro_f1=_f1(micro_p, micro_r),
        macro_f1=sum(supported) / len(supported) if supported else 0.0,
        n_unlabelled=len(unlabelled), fpr_unlabelled=_ratio(len(fp_items), len(unlabelled)),
        fpr_by_kind=by_kind, recall_by_kind=recall_kind,
    )


def format_table(report: EvalReport, title: str = "") -> str:
    """A plain-text table: one row per label, then micro/macro and the false-positive rates."""
    rows = [f"{'label':28s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'support':>7s} {'fp':>4s}"]
    for s in report.per_label:
        if s.support or s.fp:
            rows.append(f"{s.label:28s} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:7d} {s.fp:4d}")
    rows.append("-" * len(rows[0]))
    rows.append(f"{'micro':28s} {report.micro_precision:6.3f} {report.micro_recall:6.3f} {report.micro_f1:6.3f}")
    rows.append(f"{'macro F1':28s} {'':6s} {'':6s} {report.macro_f1:6.3f}")
    rows.append(f"FPR on unlabelled items: {report.fpr_unlabelled:.3f} ({report.n_unlabelled} items)")
    for kind, v in report.fpr_by_kind.items():
        rows.append(f"  FPR {kind}: {v:.3f}")
    for kind, v in report.recall_by_kind.items():
        rows.append(f"recall on {kind} items: {v:.3f}")
    head = [title] if title else []
    return "\n".join(head + [f"items: {report.n_items}"] + rows)


def parse_item(line: str) -> EvalItem:
    """One labelled JSON line -> EvalItem; ValueError saying what is wrong."""
    if len(line) > MAX_LINE_CHARS:
        raise ValueError(f"line longer than {MAX_LINE_CHARS} characters")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError("a line must be a JSON object")
    text, labels = obj.get("text"), obj.get("labels", [])
    if not isinstance(text, str) or not text.strip():
        raise ValueError("`text` must be a non-empty string")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError("`labels` must be a list of strings")
    unknown = sorted(set(labels) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown label(s) {unknown}; valid: {', '.join(sorted(LABELS))}")
    listing = obj.get("listing")
    if listing is not None and not isinstance(listing, dict):
        raise ValueError("`listing` must be an object")
    lang = obj.get("lang") if obj.get("lang") in ("zh", "en") else None
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else None
    template = obj.get("template") if isinstance(obj.get("template"), str) else None
    writer = obj.get("writer") if isinstance(obj.get("writer"), str) else None
    source = obj.get("source") if isinstance(obj.get("source"), str) else None
    segments = obj.get("segments") or ()
    if not isinstance(segments, (list, tuple)) or not all(isinstance(x, str) for x in segments):
        raise ValueError("`segments` must be a list of strings")
    return EvalItem(text=text, labels=frozenset(labels), lang=lang, kind=kind, listing=listing, template=template,
                    writer=writer, source=source, segments=tuple(segments))


def load_items(path: str | Path) -> list[EvalItem]:
    """Read a labelled JSON-lines file; ConfigError naming the file and line on bad input."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    items = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(parse_item(line))
        except ValueError as exc:
            raise ConfigError(f"{path}:{n}: {exc}") from None
    if not items:
        raise ConfigError(f"{path}: no items")
    return items


def evaluate_by(items: Sequence[EvalItem], pred: Sequence[Iterable[str]], key) -> dict[str, EvalReport]:
    """One report per group of items (`key(item)` names the group, e.g. its writer or kind)."""
    groups: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault(str(key(it)), []).append(i)
    return {g: evaluate([items[i].labels for i in idx], [pred[i] for i in idx], kinds=[items[i].kind for i in idx])
            for g, idx in sorted(groups.items())}
