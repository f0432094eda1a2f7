"""The scan report (JSON lines other tools parse) and the summary table people read.

Contract, one object per line:
    {"type": "transcript", "source", "t0", "t1", "text", "lang", "hallucination", ...}
    {"type": "finding", "source", "t0", "t1", "label", "score", "evidence", "decided_by", ...}
    {"type": "error", "source", "message"}
    {"type": "warning", "source", "message"}   (checked, with a caveat; not an error)
Extra keys may be added; the ones above keep their names and meaning.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from typing import TextIO

from pipeline.scan import FileScan

__all__ = ["scan_records", "write_records", "summary_table"]


def scan_records(scan: FileScan) -> Iterator[dict]:
    for s in scan.segments:
        yield {"type": "transcript", "source": scan.source, "t0": s.t0, "t1": s.t1, "text": s.text, "lang": s.lang,
               "hallucination": s.hallucination, "hallucination_reason": s.hallucination_reason,
               "avg_logprob": s.avg_logprob, "no_speech_prob": s.no_speech_prob, "model": s.model_id}
    for f in scan.findings:
        rec = asdict(f)
        rec.pop("source")
        yield {"type": "finding", "source": scan.source, **rec}
    for message in scan.errors:
        yield {"type": "error", "source": scan.source, "message": message}
    for message in scan.warnings:
        yield {"type": "warning", "source": scan.source, "message": message}


def write_records(out: TextIO, records: Iterator[dict], fmt: str, first: bool) -> bool:
    """Write records as JSON lines, or as elements of one JSON array (fmt="json"). Returns `first`."""
    for rec in records:
        line = json.dumps(rec, ensure_ascii=False)
        if fmt == "json":
            out.write(("[\n" if first else ",\n") + line)
            first = False
        else:
            out.write(line + "\n")
    out.flush()
    return first


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def summary_table(scans: list[FileScan], wall_s: float) -> str:
    rows = [("file", "status", "audio", "speech", "segments", "findings", "errors")]
    for sc in scans:
        rows.append((sc.source, "ok" if sc.ok else "ERROR", _hms(sc.audio_s), _hms(sc.speech_s),
                     str(len(sc.segments)), str(len(sc.findings)), str(len(sc.errors))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    audio = sum(sc.audio_s for sc in scans)
    labels = Counter(f.label for sc in scans for f in sc.findings)
    n_err = sum(len(sc.errors) for sc in scans)
    lines.append("")
    lines.append(f"files: {len(scans)} ({sum(sc.ok for sc in scans)} ok, {sum(not sc.ok for sc in scans)} failed)  "
                 f"errors: {n_err}  warnings: {sum(len(sc.warnings) for sc in scans)}")
    lines.append(f"audio: {audio / 3600:.3f} h in {wall_s:.1f} s wall ({audio / max(wall_s, 1e-9):.1f} audio-s/s)")
    lines.append("findings: " + (", ".join(f"{k} {v}" for k, v in labels.most_common()) or "none"))
    return "\n".join(lines)
