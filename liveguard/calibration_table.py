"""What voice and face calibration print alike: a distance or similarity distribution per kind of
pair, and false accepts / false rejects per tabled threshold."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["distribution", "sweep", "distribution_lines", "sweep_lines"]


def distribution(x: np.ndarray) -> dict:
    """n, min, 5th percentile, median, 95th percentile, max (just n=0 for no pairs)."""
    if not len(x):
        return {"n": 0}
    return {"n": int(len(x)), "min": round(float(x.min()), 4), "p5": round(float(np.percentile(x, 5)), 4),
            "median": round(float(np.median(x)), 4), "p95": round(float(np.percentile(x, 95)), 4),
            "max": round(float(x.max()), 4)}


def sweep(thresholds: Sequence[float], far: Callable[[float], float], frr: Callable[[float], float]) -> list[dict]:
    return [{"threshold": t, "far": round(far(t), 4), "frr": round(frr(t), 4)} for t in thresholds]


def distribution_lines(rows: Sequence[tuple[str, dict]], width: int) -> list[str]:
    """The table of `distribution`s, one row per (name, distribution) with pairs."""
    lines = [f"{'pairs':{width}s} {'n':>5s} {'min':>6s} {'p5':>6s} {'median':>6s} {'p95':>6s} {'max':>6s}"]
    for name, s in rows:
        if s.get("n"):
            lines.append(f"{name:{width}s} {s['n']:5d} {s['min']:6.3f} {s['p5']:6.3f} {s['median']:6.3f} "
                         f"{s['p95']:6.3f} {s['max']:6.3f}")
    return lines


def sweep_lines(rows: Sequence[dict], in_use: float) -> list[str]:
    """The FAR/FRR table of `sweep`, the threshold in use marked."""
    lines = [f"{'threshold':>9s} {'FAR':>7s} {'FRR':>7s}"]
    for row in rows:
        mark = "  <- in use" if abs(row["threshold"] - in_use) < 1e-9 else ""
        lines.append(f"{row['threshold']:9.2f} {row['far']:7.2%} {row['frr']:7.2%}{mark}")
    return lines
