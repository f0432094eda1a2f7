"""Batch re-scan of recorded streams: file -> windows -> transcript -> findings.

Every file ends as a FileScan, whatever went wrong inside it: an unreadable file becomes an
error record and the batch goes on. Decoding damage part-way through a file keeps what was
decoded and says how much was skipped.
"""

from __future__ import annotations

import logging
import os
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
              visual: Callable[[str], VisualChecker] | None = None) -> FileScan:
    """Scan one recording. Never raises for bad media; errors land in FileScan.errors.

    `visual(source)`, when given, makes the checker of faces (against the protected gallery),
    on-screen claims and the AI label that sees every window's frames. Its findings and the
    transcript then go through `pipeline.fusion.fuse` (one finding per appearance).
    """
    source = str(path)
    scan = FileScan(source)
    stats = DecodeStats()
    checker = visual(source) if visual is not None else None
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
        for wt in transcriber.transcribe(windows):
            scan.segments += wt.segments
            scan.findings += find_claims(wt.segments, detector, source)
            scan.audio_s += wt.window.duration
            scan.speech_s += wt.speech_s
            if on_window:
                on_window(wt.window.duration)
        if checker is not None:
            scan.findings += checker.finish()
    except MediaError as exc:
        scan.errors.append(str(exc))
    except LiveGuardError as exc:
        scan.errors.append(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - one bad file must never end a batch
        log.exception("unexpected failure on %s", source)
        scan.errors.append(f"{source}: unexpected {type(exc).__name__}: {exc}")
    if checker is not None:
        # One finding per appearance: face and voice of one gallery entry joined, transcript cues
        # ("I am <name>") and overlapping synthetic scores added (pipeline.fusion). Also on a file
        # that failed part-way, so what was found is reported the same way.
        scan.findings = fuse(scan.findings, scan.segments)
    if stats.bad_packets:
        note = f"{stats.bad_packets} damaged packet(s) skipped while decoding (first: {stats.first_error})"
        # Damage with nothing decoded is an error; damage around good audio is a caveat.
        (scan.warnings if scan.audio_s > 0 else scan.errors).append(f"{source}: {note}")
    return scan


def _checked(windows: Iterable[Window], checker: VisualChecker, scan: FileScan) -> Iterator[Window]:
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
               visual: Callable[[str], VisualChecker] | None = None) -> Iterator[FileScan]:
    for path in paths:
        yield scan_file(path, transcriber, detector, window_opts, on_window, visual)
