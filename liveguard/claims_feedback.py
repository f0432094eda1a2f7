"""Moderators' decisions in the service database as claims data (`claims train|eval --from-db URL`).

A confirmed flag says its sentence carries its label; a dismissed flag says it does not. Per
sentence (the flag's transcript segment, else its evidence words), the confirmed labels are the
gold labels; a sentence whose flags were all dismissed becomes a hard negative (no label).
Open flags are not used. Only flags raised from text (rules or the claims model) count: a face,
voice or screen-label finding has no sentence to learn from.

`drift_report` compares what the detector says now with those decisions, overall and per month of
decision: the share of confirmed sentences it still flags (recall on confirmed), the share of
dismissed ones it still flags (repeat false alarms), and the moderators' own confirm rate.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from claims.evaluate import EvalItem
from liveguard.errors import ConfigError

__all__ = ["Decision", "read_decisions", "feedback_items", "drift_report", "format_drift"]

TEXT_DECIDERS = ("rule:", "model:", "listing:")


@dataclass(frozen=True)
class Decision:
    flag_id: int
    text: str
    label: str
    confirmed: bool
    month: str  # YYYY-MM of the decision


def read_decisions(url: str) -> list[Decision]:
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from serve import make_engine, make_sessionmaker
    from serve.tables import Flag

    try:
        sessions = make_sessionmaker(make_engine(url, create_tables=False))
        with sessions() as db:
            rows = db.execute(select(Flag).where(Flag.status.in_(("confirmed", "dismissed"))).order_by(Flag.id)).scalars()
            out = []
            for f in rows:
                text = (f.segment_text or f.evidence or "").strip()
                if not text or not any(part.startswith(TEXT_DECIDERS) for part in (f.decided_by or "").split("+")):
                    continue
                when = f.decided_at or f.created_at
                out.append(Decision(f.id, text, f.label, f.status == "confirmed",
                                    when.strftime("%Y-%m") if when else "-"))
            return out
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot read moderators' decisions from {url}: {exc.__class__.__name__}: {exc}") from exc


def feedback_items(url: str) -> list[EvalItem]:
    """One item per decided sentence: confirmed labels as gold, all-dismissed as a hard negative."""
    by_text: dict[str, dict[str, bool]] = defaultdict(dict)
    for d in read_decisions(url):
        # a later decision on the same sentence and label wins (flags are read in id order)
        by_text[d.text][d.label] = d.confirmed
    items = []
    for text, labels in by_text.items():
        confirmed = frozenset(lab for lab, ok in labels.items() if ok)
        items.append(EvalItem(text=text, labels=confirmed, kind="moderator_confirmed" if confirmed
                              else "moderator_dismissed", writer="moderators", source=url.split("@")[-1]))
    return items


def drift_report(url: str, detector) -> dict:
    decisions = read_decisions(url)
    if not decisions:
        return {"decisions": 0}
    texts = sorted({d.text for d in decisions})
    found = {t: set(r.labels) for t, r in zip(texts, detector.classify_batch(texts))}
    months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in decisions:
        m = months[d.month]
        flagged = d.label in found[d.text]
        m["confirmed" if d.confirmed else "dismissed"] += 1
        m[("confirmed" if d.confirmed else "dismissed") + "_still_flagged"] += int(flagged)

    def summary(c: dict[str, int]) -> dict:
        n_c, n_d = c["confirmed"], c["dismissed"]
        return {"confirmed": n_c, "dismissed": n_d,
                "moderator_confirm_rate": round(n_c / (n_c + n_d), 3) if n_c + n_d else None,
                "recall_on_confirmed": round(c["confirmed_still_flagged"] / n_c, 3) if n_c else None,
                "still_flagged_dismissed": round(c["dismissed_still_flagged"] / n_d, 3) if n_d else None}

    total: dict[str, int] = defaultdict(int)
    for c in months.values():
        for k, v in c.items():
            total[k] += v
    return {"decisions": len(decisions), "detector": detector.name, "overall": summary(total),
            "by_month": {m: summary(c) for m, c in sorted(months.items())}}


def format_drift(rep: dict) -> str:
    if not rep.get("decisions"):
        return "no confirmed or dismissed text flags in the database"
    rows = [f"moderators' decisions: {rep['decisions']} (detector {rep['detector']})",
            f"{'month':8s} {'confirmed':>9s} {'dismissed':>9s} {'confirm rate':>12s} {'recall on confirmed':>19s} "
            f"{'dismissed still flagged':>23s}"]

    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else "-"

    for m, s in [*rep["by_month"].items(), ("all", rep["overall"])]:
        rows.append(f"{m:8s} {s['confirmed']:9d} {s['dismissed']:9d} {fmt(s['moderator_confirm_rate']):>12s} "
                    f"{fmt(s['recall_on_confirmed']):>19s} {fmt(s['still_flagged_dismissed']):>23s}")
    return "\n".join(rows)
