"""How far each live stream has been transcribed and reported, kept on disk.

The driver takes windows from a stream's buffer, sends them to ASR in batches and reports what
comes back. A `kill -9` loses whatever sat in between: windows waiting in the buffer, in the queue
or in a batch in flight, and audio not yet cut into a window. The recording on disk still holds
that audio. The ledger says what was reported: everything before `upto`, plus the windows
reported out of order after it (`done_after`), so a restarted monitor transcribes exactly the
rest (`untranscribed`) from the recording.

A window is marked done after its records are written, so a kill between the two repeats that
window's findings once rather than losing them.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

__all__ = ["TranscriptLedger", "untranscribed", "RECOVER_MAX_S"]

log = logging.getLogger(__name__)
RECOVER_MAX_S = 300.0  # at most this much audio is read back after a crash (the most recent part)
EPS = 0.05  # seconds: windows cut from the same audio meet within this


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + EPS:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class TranscriptLedger:
    """One stream's ledger file (`<workdir>/<stream>/transcribed.json`), written by the driver."""

    def __init__(self, path: str | Path, start: float = 0.0):
        """`start`: where a new ledger begins (a workdir of a version without ledgers: its earlier
        runs count as reported)."""
        self.path = Path(path)
        fresh = not self.path.exists()
        self.upto, self.done_after = load(self.path)
        if fresh:
            self.upto = start
            self.save()  # a run killed before it reports anything still has its reference point
        self.outstanding: list[tuple[float, float]] = []  # taken from the stream, not yet reported

    def taken(self, t0: float, t1: float) -> None:
        self.outstanding.append((t0, t1))

    def finished(self, t0: float, t1: float) -> None:
        """The window [t0, t1] (possibly several taken windows joined) has been reported, or given
        up on with an error record. Windows are taken in stream order, so everything before the
        oldest window still outstanding has been reported or was dropped (and counted) before it
        was taken."""
        self.outstanding = [(a, b) for a, b in self.outstanding if not (a >= t0 - EPS and b <= t1 + EPS)]
        done = _merge(self.done_after + [(t0, t1)])
        frontier = min(a for a, _ in self.outstanding) if self.outstanding else done[-1][1]
        self.upto = max(self.upto, frontier)
        self.done_after = [(a, b) for a, b in done if b > self.upto + EPS]
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"upto": round(self.upto, 3), "done_after": [[round(a, 3), round(b, 3)]
                                                                           for a, b in self.done_after]}))
        os.replace(tmp, self.path)


def load(path: str | Path) -> tuple[float, list[tuple[float, float]]]:
    """(upto, done_after) of a ledger file; (0, []) when there is none or it cannot be read."""
    path = Path(path)
    if not path.exists():
        return 0.0, []
    try:
        data = json.loads(path.read_text())
        return float(data["upto"]), [(float(a), float(b)) for a, b in data.get("done_after", [])]
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable %s: nothing will be read back from the recording", path)
        return 0.0, []


def untranscribed(path: str | Path, recorded_until: float) -> list[tuple[float, float]]:
    """Spans of stream time up to `recorded_until` that were read but never reported, per the
    ledger at `path` (the most recent RECOVER_MAX_S seconds at most). Nothing without a ledger
    (a stream seen for the first time)."""
    path = Path(path)
    if not path.exists():
        return []
    upto, done_after = load(path)
    lo = max(upto, recorded_until - RECOVER_MAX_S)
    holes, t = [], lo
    for a, b in _merge(done_after):
        if b <= t:
            continue
        if a > t + EPS:
            holes.append((t, min(a, recorded_until)))
        t = max(t, b)
    if recorded_until > t + EPS:
        holes.append((t, recorded_until))
    return [(a, b) for a, b in holes if b - a > EPS]
