"""Batch re-scan of recorded streams: file -> windows -> transcript -> findings.

Every file ends as a FileScan, whatever went wrong inside it: an unreadable file becomes an
error record and the batch goes on. Decoding damage part-way through a file keeps what was
decoded and says how much was skipped.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from asr.transcriber import Transcriber
from asr.types import Segment
from claims import ClaimDetector
from ingest.decode import DecodeStats, MediaInfo, probe
from ingest.windows import Window, WindowOptions, iter_file_windows
from liveguard.errors import LiveGuardError, MediaError
from models import sha256_file
from pipeline.findings import Finding, find_claims
from pipeline.fusion import fuse

if TYPE_CHECKING:
    from pipeline.impersonation import VisualChecker

__all__ = ["FileScan", "MEDIA_EXTENSIONS", "collect_inputs", "scan_file", "scan_files"]

log = logging.getLogger(__name__)

# What a directory walk picks up; files named on the command line are tried whatever they are called.
MEDIA_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .flv .ts .mts .m2ts .mkv .webm .avi .wmv .mpg .mpeg .3gp .f4v "
    ".m4a .aac .mp3 .wav .flac .ogg .opus".split())


@dataclass
class FileScan:
    source: str
    sha256: str | None = None
    info: MediaInfo | None = None
    segments: list[Segment] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the file could not be (fully) checked
    warnings: list[str] = field(default_factory=list)  # checked, with a caveat the reader should know
    audio_s: float = 0.0
    speech_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


def collect_inputs(paths: Iterable[str | Path], all_files: bool = False) -> list[Path]:
    """Expand directories (recursively, sorted) into media files; keep explicit files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                out += [Path(root) / f for f in sorted(files)
                        if all_files or Path(f).suffix.lower() in MEDIA_EXTENSIONS]
        else:
            out.append(p)
    return out


def scan_file(path: str | Path, transcriber: Transcriber, detector: ClaimDetector,
              window_opts: WindowOptions = WindowOptions(),
              on_window: Callable[[float], None] | None = None,
              visual: Callable[[str], VisualChecker] | None = None,
              on_speech: Callable[[], None] | None = None) -> FileScan:
    """Scan one recording. Never raises for bad media; errors land in FileScan.errors.

    `on_speech` is called when VAD first hears speech in the file (the CLI starts loading the
    claims model then: a recording without speech never pays for it).

    `visual(source)`, when given, makes the checker of faces (against the protected gallery),
    on-screen claims and the AI label that sees every window's frames. Its findings and the
    transcript then go through `pipeline.fusion.fuse` (one finding per appearance).
    """
    source = str(path)
    scan = FileScan(source)
    stats = DecodeStats()
    # the visual check runs in its own thread beside ASR (dlib's detector, ONNX Runtime and
    # Whisper release the GIL): on 2 cores the two overlap instead of adding up
    checker = _VisualThread(visual(source)) if visual is not None else None
    helper: ThreadPoolExecutor | None = None
    claims_jobs: list[Future] = []
    try:
        scan.info = probe(path)
        scan.sha256 = sha256_file(path)
        if not scan.info.has_video:
            scan.warnings.append("no video stream: audio was checked, visual checks were skipped")
        if checker is None and window_opts.frame_fps:
            window_opts = replace(window_opts, frame_fps=0)  # nothing looks at frames: do not decode video
        windows = iter_file_windows(path, stream_id=source, opts=window_opts, stats=stats)
        if checker is not None:
            windows = _checked(windows, checker, scan)
        # Without a visual check (whose findings come in window order between them), the claims of
        # each window are found in a helper thread while Whisper works on the next ones: the claims
        # model (PyTorch, which releases the GIL) then loads and runs on the other core.
        helper = ThreadPoolExecutor(1, thread_name_prefix="claims") if checker is None else None
        for wt in (transcriber.transcribe(windows, on_speech=on_speech) if on_speech else transcriber.transcribe(windows)):
            scan.segments += wt.segments
            if helper is not None:
                if wt.segments:  # a window without words never waits for the claims model to load
                    claims_jobs.append(helper.submit(find_claims, wt.segments, detector, source))
            else:
                scan.findings += find_claims(wt.segments, detector, source)
            scan.audio_s += wt.window.duration
            scan.speech_s += wt.speech_s
            if on_window:
                on_window(wt.window.duration)
        if checker is not None:
            scan.findings += checker.finish()
        _gather(claims_jobs, scan)
    except MediaError as exc:
        scan.errors.append(str(exc))
    except LiveGuardError as exc:
        scan.errors.append(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - one bad file must never end a batch
        log.exception("unexpected failure on %s", source)
        scan.errors.append(f"{source}: unexpected {type(exc).__name__}: {exc}")
    finally:
        if helper is not None:
            helper.shutdown(wait=True)
    if claims_jobs:  # the file failed part-way: what was heard before is still checked
        try:
            _gather(claims_jobs, scan)
        except LiveGuardError as exc:
            scan.errors.append(f"{type(exc).__name__}: {exc}")
    if checker is not None:
        scan.findings += checker.close()  # a file that failed part-way: what was checked before it
        # One finding per appearance: face and voice of one gallery entry joined, transcript cues
        # ("I am <name>") and overlapping synthetic scores added (pipeline.fusion). Also on a file
        # that failed part-way, so what was found is reported the same way.
        scan.findings = fuse(scan.findings, scan.segments)
    if stats.bad_packets:
        note = f"{stats.bad_packets} damaged packet(s) skipped while decoding (first: {stats.first_error})"
        # Damage with nothing decoded is an error; damage around good audio is a caveat.
        (scan.warnings if scan.audio_s > 0 else scan.errors).append(f"{source}: {note}")
    return scan


def _gather(jobs: list[Future], scan: FileScan) -> None:
    """Findings of the claims jobs, in window order (emptying the list)."""
    while jobs:
        scan.findings += jobs.pop(0).result()


class _VisualThread:
    """A VisualChecker fed in worker threads: `feed(window)` queues the window's frames and returns
    at once (findings come from `finish()`), so decoding and ASR go on while faces and text are
    checked. A VisualChecker with both faces and on-screen text on gets a thread for each
    (`feed_faces`, `feed_text`: they share no state, and dlib and ONNX Runtime release the GIL),
    so the check takes as long as the longer of the two, not their sum. Frames waiting are bounded
    by QUEUE_BYTES: decoding waits when the workers are that far behind (ASR batches minutes of
    audio before it starts, and a 60-s 1080p window of frames alone is ~370 MB). An exception in a
    worker is raised by `finish()`."""

    QUEUE_BYTES = 512 << 20
    # The workers run at this nice level (Linux sets it per thread): ASR's threads take the cores first
    # and the visual check fills the time they leave idle (a plain 720p scan keeps ~1.2 of 2 cores
    # busy). 60-s 720p bench room, --gallery --ocr, same CPU time: 4.90 / 4.71 s at 0, 4.67 / 4.46 s at
    # 10 (#14). 0: the scan's own priority.
    NICE = 10

    def __init__(self, checker: VisualChecker):
        self.checker = checker
        split = getattr(checker, "parts", 1) == 2
        parts = [checker.feed_faces, checker.feed_text] if split else [checker.feed]
        self._queues: list[list[Window | None]] = [[] for _ in parts]
        self._left: dict[int, int] = {}  # id(window) -> workers yet to check it
        self._held = 0  # bytes of frames queued
        self._cond = threading.Condition()
        self._findings: list[Finding] = []
        self._error: BaseException | None = None
        self._threads = [threading.Thread(target=self._work, args=(q, part), name=f"visual-check-{i}", daemon=True)
                         for i, (q, part) in enumerate(zip(self._queues, parts))]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _size(window: Window | None) -> int:
        return sum(f.image.nbytes for f in window.frames) if window is not None else 0

    def _work(self, queue: list[Window | None], part: Callable[[Window], list[Finding]]) -> None:
        if self.NICE and hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.NICE)  # this thread only
            except OSError:
                pass  # not allowed here: the check runs at the scan's priority
        while True:
            with self._cond:
                while not queue:
                    self._cond.wait()
                window = queue[0]
            if window is None:
                return
            found: list[Finding] = []
            if self._error is None:
                try:
                    found = part(window)
                except BaseException as exc:  # noqa: BLE001 - raised in the scan's thread by finish()
                    self._error = exc
            with self._cond:
                self._findings += found
                queue.pop(0)
                self._left[id(window)] -= 1
                if not self._left[id(window)]:
                    del self._left[id(window)]
                    self._held -= self._size(window)
                self._cond.notify_all()

    def _put(self, window: Window | None) -> None:
        size = self._size(window)
        with self._cond:
            while self._left and self._held + size > self.QUEUE_BYTES and self._error is None:
                self._cond.wait()
            for queue in self._queues:
                queue.append(window)
            if window is not None:
                self._left[id(window)] = len(self._queues)
                self._held += size
            self._cond.notify_all()

    def feed(self, window: Window) -> list[Finding]:
        self._put(replace(window))  # a copy: the caller drops the frames from its own window
        return []

    def close(self) -> list[Finding]:
        """Stop the workers once they have checked what was queued; the findings not yet returned."""
        if any(thread.is_alive() for thread in self._threads):
            self._put(None)
            for thread in self._threads:
                thread.join()
        with self._cond:
            out, self._findings = self._findings, []
        return out

    def finish(self) -> list[Finding]:
        out = self.close()
        if self._error is not None:
            self._findings = out  # still reported by close(), as for a file that failed part-way
            raise self._error
        return out + self.checker.finish()


def _checked(windows: Iterable[Window], checker: VisualChecker | _VisualThread, scan: FileScan) -> Iterator[Window]:
    """Each window through the visual check before ASR sees it, its frames dropped then: frames are
    decoded at source resolution (a 30-s window of 1080p frames is ~190 MB) and the transcriber
    holds a batch of windows at a time."""
    for window in windows:
        scan.findings += checker.feed(window)
        window.frames = []
        yield window


def scan_files(paths: Iterable[Path], transcriber: Transcriber, detector: ClaimDetector,
               window_opts: WindowOptions = WindowOptions(),
               on_window: Callable[[float], None] | None = None,
               visual: Callable[[str], VisualChecker] | None = None,
               on_speech: Callable[[], None] | None = None) -> Iterator[FileScan]:
    for path in paths:
        yield scan_file(path, transcriber, detector, window_opts, on_window, visual, on_speech)
