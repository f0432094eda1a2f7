"""Re-scan jobs: a batch of recorded files scanned in the background, findings saved and turned
into flags as each file finishes, progress readable over the API.

Paths must resolve inside the configured roots (LIVEGUARD_RESCAN_ROOTS): `..` and symlinks that
lead out are refused before a job is created. Jobs left queued or running by a crash are picked
up again at start, so a restart drops nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from fastapi import HTTPException
from sqlalchemy import select

from serve.crud import emit_event, flags_from_recording
from serve.errors import invalid
from serve.settings import Settings
from serve.store import save_scan
from serve.tables import Recording, RescanJob, Stream

__all__ = ["RescanWorker", "Scanner", "default_scanner", "resolve_paths"]

log = logging.getLogger(__name__)
MAX_FILES = 10_000  # per job

Scanner = Callable[[Path], object]  # path -> pipeline.scan.FileScan


def resolve_paths(paths: list[str], roots: list[Path]) -> list[str]:
    """Files (directories expanded) inside the roots. A path outside them is a 403, a missing one a
    404, naming the first such path."""
    from pipeline.scan import collect_inputs

    if not roots:
        raise HTTPException(403, "re-scans are disabled on this server: no LIVEGUARD_RESCAN_ROOTS are configured")
    real_roots = [r.resolve() for r in roots]
    out: list[str] = []
    for i, raw in enumerate(paths):
        if "\x00" in raw:
            raise invalid("path contains a NUL byte", "paths", i)
        p = Path(raw)
        real = (p if p.is_absolute() else real_roots[0] / p).resolve()
        if not any(real.is_relative_to(r) for r in real_roots):
            raise HTTPException(403, f"paths[{i}]: {raw!r} is outside the configured rescan roots")
        if not real.exists():
            raise HTTPException(404, f"paths[{i}]: {raw!r} does not exist")
        for f in collect_inputs([real]):
            rf = f.resolve()  # a symlink inside a directory may still point out
            if any(rf.is_relative_to(r) for r in real_roots):
                out.append(str(rf))
    if not out:
        raise invalid("no media files found in the given paths", "paths")
    if len(out) > MAX_FILES:
        raise invalid(f"{len(out)} files: at most {MAX_FILES} per job", "paths")
    return out


def default_scanner(settings: Settings) -> Scanner:
    """The real pipeline, loaded on the first job (Whisper takes a while to load)."""
    state: dict = {}

    def scan(path: Path):
        from asr import AsrOptions, Transcriber, load_whisper
        from claims.defaults import make_detector
        from pipeline.scan import scan_file

        if "t" not in state:
            state["t"] = Transcriber(load_whisper(settings.rescan_model, None), AsrOptions())
            state["d"] = make_detector(settings.rescan_claims)
        return scan_file(path, state["t"], state["d"])

    return scan


class RescanWorker:
    def __init__(self, sessions, settings: Settings, scanner: Scanner) -> None:
        self.sessions, self.settings, self.scanner = sessions, settings, scanner
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="liveguard-rescans", daemon=True)

    def start(self) -> None:
        with self.sessions() as s:  # resume what a crash or restart left behind
            for job_id in s.scalars(select(RescanJob.id).where(RescanJob.status.in_(["queued", "running"]))
                                    .order_by(RescanJob.id)):
                self._queue.put(job_id)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(30)

    def submit(self, job_id: int) -> None:
        self._queue.put(job_id)

    def _run(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                self.run_job(job_id)
            except Exception as exc:  # noqa: BLE001 - a failed job is recorded, the worker goes on
                log.exception("rescan job %s failed", job_id)
                with self.sessions() as s:
                    job = s.get(RescanJob, job_id)
                    job.status, job.error, job.finished_at = "failed", f"{type(exc).__name__}: {exc}", _now()
                    s.commit()

    def run_job(self, job_id: int) -> None:
        with self.sessions() as s:
            job = s.get(RescanJob, job_id)
            if job is None or job.status in ("done", "failed"):
                return
            job.status = "running"
            s.commit()
            paths, start, stream_id = list(job.paths), job.done, job.stream_id
        for path in paths[start:]:
            scan = self.scanner(Path(path))
            with self.sessions() as s:
                save_scan(s, scan)
            result = {"path": path, "ok": scan.ok, "errors": scan.errors, "findings": len(scan.findings),
                      "flags": []}
            with self.sessions() as s:
                rec = s.scalar(select(Recording).where(Recording.sha256 == scan.sha256)) if scan.sha256 else None
                if rec is not None:
                    stream = s.get(Stream, stream_id) if stream_id else None
                    created, _, _ = flags_from_recording(s, rec, stream=stream)
                    result["flags"] = [f.id for f in created]
                    for f in created:
                        emit_event(s, settings=self.settings, kind="flag.created",
                                   payload={"flag_id": f.id, "label": f.label, "severity": f.severity})
                job = s.get(RescanJob, job_id)
                job.results = [*job.results, result]
                job.done += 1
                s.commit()
        with self.sessions() as s:
            job = s.get(RescanJob, job_id)
            job.status, job.finished_at = "done", _now()
            s.commit()


def _now() -> datetime:
    return datetime.now(timezone.utc)
