"""Throughput of claim detection (`liveguard bench claims`): sentences per second on this machine.

Sentences are the corpus's held-out test texts (independent writers' live-room talk, zh and en,
of realistic length), repeated to N; they are classified in batches of BATCH, as `liveguard
claims classify` does, by each detector in turn in one run (rules alone is the baseline).
Listings are not used.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from .corpus import BUILD_DIR
from .normalize import clear_cache

BATCH = 64


def bench_sentences(n: int, data_dir: Path = BUILD_DIR) -> list[str]:
    texts = [json.loads(line)["text"] for split in ("test",)
             for line in (data_dir / f"{split}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return [texts[i % len(texts)] for i in range(n)]


def run_bench(detector, n: int = 10_000) -> dict:
    """Classify n sentences with `detector` (a CombinedDetector): the steady rate of a long run.
    Timing excludes loading and a warm-up pass over one cycle of the sentences (up to 1,500):
    besides loading the encoder and compiling the regexes, PyTorch's CPU kernels (oneDNN, bf16
    above all) are built per input shape on first use, a cost a scan or monitor pays once.
    The normaliser's cache is emptied before each batch: shared within a batch (rules and model
    read the same sentences), never across the repeated cycles."""
    texts = bench_sentences(n)
    for i in range(0, min(n, 1_500), BATCH):
        detector.classify_batch(texts[i:i + BATCH])
    t0 = time.perf_counter()
    flagged = 0
    for i in range(0, n, BATCH):
        clear_cache()  # the texts repeat every cycle; a stream's sentences do not
        flagged += sum(1 for r in detector.classify_batch(texts[i:i + BATCH]) if r.labels)
    dt = time.perf_counter() - t0
    return {"detector": detector.name, "sentences": n, "seconds": round(dt, 2),
            "sentences_per_s": round(n / dt, 1), "flagged": flagged,
            "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine()}


def format_bench(res: dict) -> str:
    ratio = f"  {res['x_rules']:.3f}x rules" if res.get("x_rules") is not None else ""
    return (f"{res['detector']:40s} {res['sentences']:6d} sentences  {res['seconds']:8.2f} s  "
            f"{res['sentences_per_s']:9.1f} sentences/s{ratio}  ({res['cpus']} CPUs)")
