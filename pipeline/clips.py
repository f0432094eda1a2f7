"""Evidence clips owed to findings, kept in a journal so that none is lost to a crash.

Every finding's clip request is appended to `clips/journal.jsonl` before the finding is reported;
when the clip is cut (or cannot be), a `done` line follows. A monitor restarted on the same
working directory reads the journal back and cuts every clip still owed from the recording on
disk (`ingest.recorder` keeps earlier runs' segments). A clip that cannot be made is reported as
`clip_failed` with the reason, and the flag that pointed at it says so, so no flag points at a
file that does not exist.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClipRequest", "ClipJournal"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipRequest:
    source: str  # stream id
    label: str
    t0: float  # clip span, stream seconds
    t1: float
    out: str  # where the clip goes (also what the finding record and its flag point at)


class ClipJournal:
    """Append-only record of clip requests and outcomes (JSON lines; a torn last line is skipped)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _append(self, entry: dict) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()

    def request(self, clip: ClipRequest) -> None:
        self._append({"op": "request", **clip.__dict__})

    def done(self, clip: ClipRequest, ok: bool, reason: str | None = None) -> None:
        self._append({"op": "done", "out": clip.out, "ok": ok, "reason": reason})

    def owed(self) -> list[ClipRequest]:
        """Requests without an outcome, oldest first."""
        if not self.path.exists():
            return []
        owed: dict[str, ClipRequest] = {}
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                if entry["op"] == "request":
                    owed[entry["out"]] = ClipRequest(entry["source"], entry["label"], float(entry["t0"]),
                                                     float(entry["t1"]), entry["out"])
                elif entry["op"] == "done":
                    owed.pop(entry["out"], None)
            except (ValueError, KeyError, TypeError):
                log.warning("%s: skipped an unreadable line", self.path)
        return list(owed.values())
