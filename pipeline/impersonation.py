"""Faces on screen against the gallery: `ai_impersonation` and `ban_evasion` findings.

frames -> faces (vision.faces) -> tracks (vision.tracking) -> per track, the closest gallery
entry -> a finding when the track matches a protected person on an account that person has not
authorised (`ai_impersonation`), or a blacklisted streamer on an account that is not one of their
known, banned accounts (`ban_evasion`, 「换马甲」). One track (one appearance) gives at most one
finding, whatever its length. Voices are matched the same way in `pipeline.voices`.

The score is the match distance mapped to [0, 1]: 1 - distance / (2 * threshold), so 0.5 is the
threshold itself and 0.84 a typical same-person distance (0.19). It orders findings; it is not a
calibrated probability (see docs/vision.md for what was measured).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from claims import ClaimDetector, get_label
from ingest.decode import VideoFrame
from pipeline.findings import Finding
from pipeline.voices import VoiceChecker
from pipeline.screen import LiveLabelWatch, LiveScreenText, ai_label_findings, screen_text_findings
from vision.ai_label import LabelOptions, check_ai_label
from vision.faces import FACE_MODEL_ID, MATCH_DISTANCE, Face, FaceAnalyzer, face_distances
from vision.gallery import Gallery, GalleryEntry, describe_match
from vision.ocr import OcrOptions, ScreenReader, ScreenText
from vision.tracking import FaceTracker
from vision.tracking import Track, TrackOptions, track_faces

__all__ = ["LABEL", "BAN_EVASION", "ImpersonationOptions", "FaceMatch", "iter_frames", "match_tracks", "face_matches",
           "impersonation_findings", "distance_score", "screen_text_findings", "ai_label_findings",
           "VisualOptions", "VisualChecker"]

LABEL = "ai_impersonation"
BAN_EVASION = "ban_evasion"  # a blacklisted entry's match: see claims/taxonomy.py
DECIDED_BY = f"face:{FACE_MODEL_ID}"


@dataclass(frozen=True)
class ImpersonationOptions:
    threshold: float = MATCH_DISTANCE  # face descriptor distance at or below which a face is that person
    min_frames: int = 1  # matching frames a track needs (at 1 fps: seconds on screen)
    evidence_frames: int = 5  # frame times listed in the evidence, best first
    track: TrackOptions = field(default_factory=TrackOptions)

    def __post_init__(self):
        if not 0 < self.threshold < 2 or self.min_frames < 1 or self.evidence_frames < 1:
            raise ValueError(f"need 0 < threshold < 2, min_frames >= 1, evidence_frames >= 1; got "
                             f"{self.threshold}, {self.min_frames}, {self.evidence_frames}")


@dataclass(frozen=True, eq=False)
class FaceMatch:
    """One track matched to one gallery entry."""

    entry: GalleryEntry
    track: Track
    distance: float  # the smallest distance of any face in the track to any of the entry's prints
    matched: tuple[Face, ...]  # the faces of the track at or under the threshold, in time order
    authorised: bool  # protected: the account is one the person authorised; blacklisted: one of their own

    @property
    def label(self) -> str:
        return BAN_EVASION if self.entry.kind == "blacklisted" else LABEL

    @property
    def t0(self) -> float:
        return self.track.t0

    @property
    def t1(self) -> float:
        return self.track.t1


def distance_score(distance: float, threshold: float = MATCH_DISTANCE) -> float:
    return round(float(np.clip(1.0 - distance / (2.0 * threshold), 0.0, 1.0)), 4)


def iter_frames(windows_frames: Iterable) -> Iterator[VideoFrame]:
    """Frames out of Windows (anything with `.frames`), lists of frames, or frames."""
    for item in windows_frames:
        if isinstance(item, VideoFrame):
            yield item
        elif hasattr(item, "frames"):
            yield from item.frames
        else:
            yield from item


def match_tracks(tracks: Iterable[Track], gallery: Gallery, account: str | None,
                 opts: ImpersonationOptions = ImpersonationOptions(), kind: str | None = None) -> Iterator[FaceMatch]:
    """For each track, the closest gallery entry (of `kind`, default any) it matches, if any."""
    prints, owners = gallery.face_matrix(kind=kind)
    if not len(prints):
        return
    entries = list(dict.fromkeys(owners))
    owner_idx = np.array([entries.index(o) for o in owners])
    for track in tracks:
        d = face_distances(track.embeddings(), prints)  # (faces, prints)
        per_entry = np.stack([d[:, owner_idx == i].min(axis=1) for i in range(len(entries))], axis=1)
        best_entry = int(np.argmin(per_entry.min(axis=0)))
        dists = per_entry[:, best_entry]
        hits = tuple(f for f, x in zip(track.faces, dists) if x <= opts.threshold)
        if len(hits) < opts.min_frames:
            continue
        entry = entries[best_entry]
        yield FaceMatch(entry, track, float(dists.min()), hits, entry.authorises(account))


def face_matches(windows_frames: Iterable, account: str | None, gallery: Gallery,
                 analyzer: FaceAnalyzer | None = None,
                 opts: ImpersonationOptions = ImpersonationOptions()) -> list[FaceMatch]:
    """Every gallery match in the frames, authorised ones included (for the record and for fusion)."""
    if not len(gallery.face_matrix()[0]):
        return []  # nothing to match against: do not spend a second per frame on faces
    analyzer = analyzer or FaceAnalyzer()
    per_frame = ((f.t, analyzer.faces(f.image, f.t)) for f in iter_frames(windows_frames))
    return list(match_tracks(track_faces(per_frame, opts.track), gallery, account, opts))


def _finding(m: FaceMatch, account: str | None, source: str, opts: ImpersonationOptions) -> Finding:
    label = get_label(m.label)
    best = sorted(m.matched, key=lambda f: f.quality, reverse=True)[:opts.evidence_frames]
    times = ", ".join(f"{f.t:.1f}" for f in sorted(best, key=lambda f: f.t))
    what = describe_match("face", m.entry, account)
    evidence = (f"{what}: distance {m.distance:.3f} <= {opts.threshold} "
                f"(similarity {distance_score(m.distance, opts.threshold)}) in {len(m.matched)} of "
                f"{len(m.track.faces)} frame(s); frames at t={times} s")
    return Finding(source=source, t0=round(m.t0, 3), t1=round(m.t1, 3), label=m.label,
                   score=distance_score(m.distance, opts.threshold), evidence=evidence, decided_by=DECIDED_BY,
                   legal_basis=label.legal_basis, severity=label.severity, segment_text="", lang="",
                   asr_model="")


def impersonation_findings(windows_frames: Iterable, account: str | None, gallery: Gallery,
                           source: str = "", analyzer: FaceAnalyzer | None = None,
                           opts: ImpersonationOptions = ImpersonationOptions()) -> list[Finding]:
    """`ai_impersonation` / `ban_evasion` findings for a recording or stream shown on `account`.

    `windows_frames`: ingest Windows (their `.frames` are used), lists of VideoFrames or frames.
    A match on an account the person authorised gives no finding; `account=None` counts as
    unauthorised. Findings are in time order, one per face track.
    """
    matches = face_matches(windows_frames, account, gallery, analyzer, opts)
    return sorted((_finding(m, account, source, opts) for m in matches if not m.authorised),
                  key=lambda f: (f.t0, f.t1))


# --- on-screen text -------------------------------------------------------------------------------
# These two sit here for now (the vision work was limited to this module); they belong with the
# other frame-based stages whatever the lead names that module.

# --- the whole visual check, fed one window at a time (scan and monitor) --------------------------


@dataclass(frozen=True)
class VisualOptions:
    impersonation: ImpersonationOptions = field(default_factory=ImpersonationOptions)
    ocr: OcrOptions | None = field(default_factory=OcrOptions)  # None: no OCR, no label check
    label: LabelOptions = field(default_factory=LabelOptions)
    lang: str = "zh"  # language the claims detector assumes for on-screen text
    live: bool = False  # report on-screen findings as they become certain (monitor), not at the end (scan)


class VisualChecker:
    """Faces (and, with `voices`, voices) against the gallery, on-screen claims and the AI label,
    for one recording or stream.

    `feed(window)` returns the impersonation findings of face tracks that ended by then (so a
    live monitor gets them a few seconds after the face leaves); `finish()` ends the remaining
    tracks. On-screen claims and the AI label: with `opts.live`, `feed` reports them as soon as
    they are certain (pipeline.screen) and nothing of the timeline is kept; otherwise `finish`
    folds the whole timeline, so each finding spans all it covers (scan). Memory stays bounded
    live: frames are not kept, only face descriptors of open tracks and text still on screen.
    """

    def __init__(self, source: str, account: str | None, gallery: Gallery | None = None,
                 detector: ClaimDetector | None = None, analyzer: FaceAnalyzer | None = None,
                 reader: ScreenReader | None = None, opts: VisualOptions = VisualOptions(),
                 voices: VoiceChecker | None = None):
        self.source, self.account, self.opts = source, account, opts
        self.voices = voices  # gallery voices ride along on the same windows' audio (pipeline.voices)
        self.gallery = gallery if gallery is not None and len(gallery.face_matrix()[0]) else None
        self.detector = detector
        self.analyzer = analyzer or (FaceAnalyzer() if self.gallery is not None else None)
        self.reader = reader or (ScreenReader(opts.ocr) if opts.ocr is not None else None)
        self.tracker = FaceTracker(opts.impersonation.track)
        self.readings: list[tuple[float, list[ScreenText]]] = []  # scan only: the whole timeline
        self.live_text = LiveScreenText(detector, source, opts.lang) if opts.live and detector is not None else None
        self.live_label = LiveLabelWatch(opts.label, source) if opts.live else None
        self.frames_seen = 0
        self._next_ocr_t: float | None = None

    def _track_findings(self, tracks: list[Track]) -> list[Finding]:
        if self.gallery is None or not tracks:
            return []
        matches = match_tracks(tracks, self.gallery, self.account, self.opts.impersonation)
        return [_finding(m, self.account, self.source, self.opts.impersonation) for m in matches if not m.authorised]

    def feed(self, window_or_frames) -> list[Finding]:
        out: list[Finding] = []
        if self.voices is not None and hasattr(window_or_frames, "audio"):
            out += self.voices.feed(window_or_frames)
        for frame in iter_frames([window_or_frames]):
            self.frames_seen += 1
            if self.gallery is not None:
                ended = self.tracker.update(frame.t, self.analyzer.faces(frame.image, frame.t))
                out += self._track_findings(ended)
            if self.reader is not None and (self._next_ocr_t is None or frame.t >= self._next_ocr_t - 1e-6):
                self._next_ocr_t = frame.t + self.reader.opts.interval_s
                lines = self.reader.read(frame.image, frame.t)
                if self.opts.live:
                    out += self.live_text.update(frame.t, lines) if self.live_text is not None else []
                    out += self.live_label.update(frame.t, lines)
                else:
                    self.readings.append((frame.t, lines))
        return out

    def finish(self) -> list[Finding]:
        out = self._track_findings(self.tracker.finish())
        if self.voices is not None:
            out += self.voices.finish()
        if self.live_text is not None:
            out += self.live_text.finish()
        if self.readings:
            if self.detector is not None:
                out += screen_text_findings(self.readings, self.detector, self.source, self.opts.lang)
            out += ai_label_findings(check_ai_label(self.readings, self.opts.label), self.source)
        return sorted(out, key=lambda f: (f.t0, f.label))
