"""Faces on screen against the gallery: `ai_impersonation` and `ban_evasion` findings.

frames -> faces (vision.faces) -> tracks (vision.tracking) -> per track, the closest gallery
entry -> a finding when the track matches a protected person on an account that person has not
authorised (`ai_impersonation`), or a blacklisted streamer on an account that is not one of their
known, banned accounts (`ban_evasion`, 「换马甲」). One track (one appearance) gives at most one
finding, whatever its length. Voices are matched the same way in `pipeline.voices`.

Faces are found at source resolution and followed cheaply between searches (`vision.appearances`).
A track is matched by its *appearance print*, the mean descriptor of its best frames (not by any
single frame, so one odd frame of a stranger does not accuse them), and tracks of the same entry
less than `rejoin_s` apart are one appearance (a presenter who turns away, is missed by the
detector or steps out for a moment): one finding spanning the whole stretch.

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
from vision.appearances import FaceWatch, WatchOptions
from vision.faces import FACE_MODEL_ID, MATCH_DISTANCE, Face, FaceAnalyzer, face_distances
from vision.gallery import Gallery, GalleryEntry, describe_match
from vision.ocr import OcrOptions, ScreenReader, ScreenText, ScreenWatch
from vision.tracking import Track, TrackOptions

__all__ = ["LABEL", "BAN_EVASION", "ImpersonationOptions", "FaceMatch", "iter_frames", "match_tracks",
           "join_appearances", "AppearanceJoiner", "face_matches",
           "impersonation_findings", "distance_score", "screen_text_findings", "ai_label_findings",
           "VisualOptions", "VisualChecker"]

LABEL = "ai_impersonation"
BAN_EVASION = "ban_evasion"  # a blacklisted entry's match: see claims/taxonomy.py
DECIDED_BY = f"face:{FACE_MODEL_ID}"


@dataclass(frozen=True)
class ImpersonationOptions:
    threshold: float = MATCH_DISTANCE  # face descriptor distance at or below which a face is that person
    min_frames: int = 1  # described frames of a track within the threshold it needs
    evidence_frames: int = 5  # frame times listed in the evidence, best first
    best_k: int = 5  # a track's appearance print is the mean descriptor of its best k described faces
    rejoin_s: float = 30.0  # matched tracks of one entry less than this apart (stream seconds) are one appearance
    # live only: an appearance matched and on screen this long is reported while it lasts, not
    # when it ends (which can be an hour later, plus rejoin_s); later parts of it are not reported again
    report_after_s: float = 5.0
    track: TrackOptions = field(default_factory=TrackOptions)
    watch: WatchOptions = field(default_factory=WatchOptions)  # detection sizes and schedule (its track: `track`)

    def __post_init__(self):
        if not 0 < self.threshold < 2 or self.min_frames < 1 or self.evidence_frames < 1 or self.best_k < 1:
            raise ValueError(f"need 0 < threshold < 2, min_frames >= 1, evidence_frames >= 1, best_k >= 1; got "
                             f"{self.threshold}, {self.min_frames}, {self.evidence_frames}, {self.best_k}")
        if self.rejoin_s < 0:
            raise ValueError(f"rejoin_s must be >= 0, got {self.rejoin_s}")

    def face_watch(self, analyzer: FaceAnalyzer | None = None) -> FaceWatch:
        return FaceWatch(analyzer, replace(self.watch, track=self.track, best_k=self.best_k))


@dataclass(frozen=True, eq=False)
class FaceMatch:
    """One track matched to one gallery entry."""

    entry: GalleryEntry
    track: Track  # for a joined appearance, one track holding the faces of all its tracks
    distance: float  # the appearance print's distance to the closest of the entry's prints
    matched: tuple[Face, ...]  # the described faces at or under the threshold on their own, in time order
    authorised: bool  # protected: the account is one the person authorised; blacklisted: one of their own
    closest: float = 0.0  # the closest single described face
    tracks: int = 1  # tracks joined into this appearance

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
    """For each track, the closest gallery entry (of `kind`, default any) its appearance print
    (mean of its best `best_k` descriptors) is within the threshold of, if any."""
    prints, owners = gallery.face_matrix(kind=kind)
    if not len(prints):
        return
    entries = list(dict.fromkeys(owners))
    owner_idx = np.array([entries.index(o) for o in owners])

    def per_entry(d: np.ndarray) -> np.ndarray:  # (n, prints) -> (n, entries): closest print of each entry
        return np.stack([d[:, owner_idx == i].min(axis=1) for i in range(len(entries))], axis=1)

    for track in tracks:
        if not track.described:
            continue
        agg = per_entry(face_distances(track.descriptor(opts.best_k), prints))[0]
        best_entry = int(np.argmin(agg))
        if agg[best_entry] > opts.threshold:
            continue
        dists = per_entry(face_distances(track.embeddings(), prints))[:, best_entry]
        hits = tuple(f for f, x in zip(track.described, dists) if x <= opts.threshold)
        if len(hits) < opts.min_frames:
            continue
        entry = entries[best_entry]
        yield FaceMatch(entry, track, float(agg[best_entry]), hits, entry.authorises(account),
                        closest=float(dists.min()))


def _join(a: FaceMatch, b: FaceMatch) -> FaceMatch:
    faces = sorted(a.track.faces + b.track.faces, key=lambda f: f.t)
    first = a if a.track.t0 <= b.track.t0 else b
    return FaceMatch(a.entry, Track(first.track.track_id, faces), min(a.distance, b.distance),
                     tuple(sorted(a.matched + b.matched, key=lambda f: f.t)), a.authorised,
                     closest=min(a.closest, b.closest), tracks=a.tracks + b.tracks)


def _key(m: FaceMatch) -> tuple:
    return m.entry.name, m.entry.kind, m.authorised


class AppearanceJoiner:
    """Matched tracks in, appearances out: tracks of one entry less than `rejoin_s` apart are joined.

    An appearance is handed out once nothing can join it any more: the stream moved more than
    `rejoin_s` past its end and no track still open started early enough to join it."""

    def __init__(self, rejoin_s: float):
        self.rejoin_s = rejoin_s
        self.open: list[FaceMatch] = []

    def add(self, matches: Iterable[FaceMatch]) -> None:
        for m in sorted(matches, key=lambda m: m.t0):
            for i, o in enumerate(self.open):
                if _key(o) == _key(m) and m.t0 - o.t1 <= self.rejoin_s and o.t0 - m.t1 <= self.rejoin_s:
                    self.open[i] = _join(o, m)
                    break
            else:
                self.open.append(m)

    def ready(self, t: float, active: Iterable[Track] = ()) -> list[FaceMatch]:
        starts = [tr.t0 for tr in active]
        done = [o for o in self.open
                if t - o.t1 > self.rejoin_s and not any(s - o.t1 <= self.rejoin_s for s in starts)]
        self.open = [o for o in self.open if o not in done]
        return done

    def finish(self) -> list[FaceMatch]:
        done, self.open = self.open, []
        return done


def join_appearances(matches: Iterable[FaceMatch], rejoin_s: float = 30.0) -> list[FaceMatch]:
    """All matches of a recording joined into appearances (see AppearanceJoiner), in time order."""
    joiner = AppearanceJoiner(rejoin_s)
    joiner.add(matches)
    return sorted(joiner.finish(), key=lambda m: m.t0)


def face_matches(windows_frames: Iterable, account: str | None, gallery: Gallery,
                 analyzer: FaceAnalyzer | None = None,
                 opts: ImpersonationOptions = ImpersonationOptions()) -> list[FaceMatch]:
    """Every gallery match in the frames, authorised ones included (for the record and for fusion)."""
    if not len(gallery.face_matrix()[0]):
        return []  # nothing to match against: do not spend a second per frame on faces
    watch = opts.face_watch(analyzer)
    tracks = [tr for f in iter_frames(windows_frames) for tr in watch.update(f.t, f.image)] + watch.finish()
    return join_appearances(match_tracks(tracks, gallery, account, opts), opts.rejoin_s)


def _finding(m: FaceMatch, account: str | None, source: str, opts: ImpersonationOptions,
             ongoing: bool = False) -> Finding:
    label = get_label(m.label)
    best = sorted(m.matched, key=lambda f: f.quality, reverse=True)[:opts.evidence_frames]
    times = ", ".join(f"{f.t:.1f}" for f in sorted(best, key=lambda f: f.t))
    what = describe_match("face", m.entry, account)
    joined = f", {m.tracks} tracks joined" if m.tracks > 1 else ""
    evidence = (f"{what}: distance {m.distance:.3f} <= {opts.threshold} "
                f"(similarity {distance_score(m.distance, opts.threshold)}; mean print of the best "
                f"{min(opts.best_k, len(m.track.described))} frames, closest frame {m.closest:.3f}); on screen in "
                f"{len(m.track.faces)} frame(s){joined}, {len(m.matched)} of {len(m.track.described)} described "
                f"frame(s) within the threshold; frames at t={times} s"
                + ("; reported while still on screen" if ongoing else ""))
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

    `feed(window)` returns the impersonation findings of appearances that ended by then; live
    (`opts.live`), an appearance is reported once it has been matched and on screen
    `report_after_s`, while it lasts, and not again when it ends. `finish()` ends the remaining
    ones. On-screen claims and the AI label: with `opts.live`, `feed` reports them as soon as
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
        self.watch = opts.impersonation.face_watch(analyzer) if self.gallery is not None else None
        self.appearances = AppearanceJoiner(opts.impersonation.rejoin_s)
        self.reader = reader or (ScreenReader(opts.ocr) if opts.ocr is not None else None)
        # change-gated reading for the real reader; any other object with read(image, t) is used as is
        self.screen = ScreenWatch(self.reader) if isinstance(self.reader, ScreenReader) else None
        self.readings: list[tuple[float, list[ScreenText]]] = []  # scan only: the whole timeline
        self.live_text = LiveScreenText(detector, source, opts.lang) if opts.live and detector is not None else None
        self.live_label = LiveLabelWatch(opts.label, source) if opts.live else None
        self.frames_seen = 0
        self._next_ocr_t: float | None = None
        # live: appearances (by entry) reported while on screen -> when that person was last matched
        self._reported: dict[tuple, float] = {}

    def _track_findings(self, t: float | None, tracks: list[Track]) -> list[Finding]:
        """Findings of the appearances complete at stream time t (None: the end) after `tracks` ended,
        and (live) of appearances long enough on screen to report before they end."""
        if self.gallery is None:
            return []
        imp = self.opts.impersonation
        self.appearances.add(match_tracks(tracks, self.gallery, self.account, imp))
        out = self._ongoing_findings(t) if self.opts.live and t is not None else []
        done = self.appearances.finish() if t is None else self.appearances.ready(t, self.watch.active)
        for m in done:
            if _key(m) in self._reported:  # its report went out while it was on screen
                del self._reported[_key(m)]
            elif not m.authorised:
                out.append(_finding(m, self.account, self.source, imp))
        return out

    def _ongoing_findings(self, t: float) -> list[Finding]:
        """Live: an unauthorised match (ended tracks joined so far, or a track still on screen) that
        has been on screen `report_after_s` is reported now, once per appearance."""
        imp = self.opts.impersonation
        open_now = list(self.appearances.open) + list(match_tracks(self.watch.active, self.gallery, self.account, imp))
        for m in open_now:
            if _key(m) in self._reported:
                self._reported[_key(m)] = max(self._reported[_key(m)], m.t1)
        # a reported person unseen past the rejoin window whose appearance never completed as a
        # match (its final print drifted) may be reported again when they come back
        stale = imp.rejoin_s + imp.track.max_gap_s
        self._reported = {k: last for k, last in self._reported.items() if t - last <= stale}
        out = []
        for m in sorted(open_now, key=lambda m: m.t0):
            k = _key(m)
            if m.authorised or k in self._reported:
                continue
            if t - min(o.t0 for o in open_now if _key(o) == k) >= imp.report_after_s:
                self._reported[k] = m.t1
                out.append(_finding(m, self.account, self.source, imp, ongoing=True))
        return out

    def feed(self, window_or_frames) -> list[Finding]:
        return self.feed_faces(window_or_frames) + self.feed_text(window_or_frames)

    @property
    def parts(self) -> int:
        """How many of the two independent parts (faces and voices; on-screen text) are on."""
        return (self.gallery is not None or self.voices is not None) + (self.reader is not None)

    def feed_faces(self, window_or_frames) -> list[Finding]:
        """The faces (and voices) half of `feed`. It shares no state with `feed_text`, so the two may
        run in two threads at once (dlib and ONNX Runtime release the GIL; pipeline.scan does)."""
        out: list[Finding] = []
        if self.voices is not None and hasattr(window_or_frames, "audio"):
            out += self.voices.feed(window_or_frames)
        for frame in iter_frames([window_or_frames]):
            self.frames_seen += 1
            if self.gallery is not None:
                out += self._track_findings(frame.t, self.watch.update(frame.t, frame.image))
        return out

    def feed_text(self, window_or_frames) -> list[Finding]:
        """The on-screen text half of `feed` (claims on screen, the AI label)."""
        out: list[Finding] = []
        if self.reader is None:
            return out
        for frame in iter_frames([window_or_frames]):
            if self._next_ocr_t is None or frame.t >= self._next_ocr_t - 1e-6:
                self._next_ocr_t = frame.t + self.reader.opts.interval_s
                lines = (self.screen.read(frame.t, frame.image) if self.screen is not None
                         else self.reader.read(frame.image, frame.t))
                if self.opts.live:
                    out += self.live_text.update(frame.t, lines) if self.live_text is not None else []
                    out += self.live_label.update(frame.t, lines)
                else:
                    self.readings.append((frame.t, lines))
        return out

    def finish(self) -> list[Finding]:
        out = self._track_findings(None, self.watch.finish()) if self.watch is not None else []
        if self.voices is not None:
            out += self.voices.finish()
        if self.live_text is not None:
            out += self.live_text.finish()
        if self.readings:
            if self.detector is not None:
                out += screen_text_findings(self.readings, self.detector, self.source, self.opts.lang)
            out += ai_label_findings(check_ai_label(self.readings, self.opts.label), self.source)
        return sorted(out, key=lambda f: (f.t0, f.label))
