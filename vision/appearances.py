"""Faces of one stream, frame after frame, at the sizes real rooms show them, for about the cost of a 360p pass.

Issue #14: scaling every frame to 360 lines before detection hid every face under ~80 px of a
720p stream. Here frames stay at source resolution (up to 1080 lines, ingest) and the detector
is asked for faces of `min_face_px` and up (`FaceDetector.detect_scaled`: the searched area is
scaled by 80 / min_face_px). Searching a whole 720p frame for 40 px faces costs ~0.2 s (1080p
~0.45 s), so per frame only three kinds of region are searched:

- the whole frame, on the first frame and then every `full_every_s`;
- every `changed_every_s`, where the picture changed since the last such search (`vision.change`):
  a face that was not there before can only appear where pixels changed. Parts that changed at
  the search before too (someone walking, a presenter swaying: `BusyCells`) only every
  `busy_every_s`: a face that steps in where all was still is found at once, one that comes up
  inside something that keeps moving within `busy_every_s`;
- on every frame, around each face being followed (its last box and where its last step takes it,
  grown by `track_margin`, at down to half its size), so a face that holds still is still found
  and one that moves is followed cheaply.

The 128-d descriptor (~55-80 ms a face) is the other cost. A face that continues a track (same
place) is described only when the track has fewer than `best_k` described faces, when this frame
ranks clearly better than the worst of its best ones, or when `describe_every_s` passed since its last
description (a different person stepping into the same place is noticed within that time). None of
these is taken while the face still *looks* as at its last print and ranks no better (`same_look`: a
template of its grey pixels correlates that well in the followed box; at most `verify_every_s`): that
print would come out again. A still face then has one print a minute, a changing one more.
The tracker (`vision.tracking`) turns faces into tracks; matching tracks to the gallery and
joining a person's tracks into appearances is `pipeline.impersonation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vision.change import BusyCells, box_area, changed_mask, grow_box, mask_boxes, subtract_boxes, thumbnail
from vision.faces import Box, Face, FaceAnalyzer
from vision.tracking import FaceTracker, Track, TrackOptions, box_iou

__all__ = ["WatchOptions", "WatchStats", "FaceWatch"]

FULL_FRAME_SHARE = 0.6  # regions covering more of the frame than this are searched as one whole frame
SAME_FACE_IOU = 0.3  # a box overlapping a followed face's last box this much continues it
BETTER_FRAME = 1.2  # a followed face is described again when it ranks this much above the track's worst best frame
MIN_REDESCRIBE_S = 5.0  # ... but not more often than this (stream seconds)
# a followed face is searched for at down to this share of its size: a 150 px host at ~0.7x, not ~1x
# (dlib's box of one face jumps by ~20 % between pyramid levels; a face that shrinks more in one step is
# found by the changed-region search)
FOLLOW_SHARE = 0.7
# a large (>= STEADY_SIZE x min_face_px) face that moved less than STEADY_STEP of its width between its
# last two frames is searched for every other frame: the track rides out the 1-s hole (max_gap_s), and
# a small or moving face is still followed in every frame
STEADY_SIZE, STEADY_STEP = 2.0, 0.25
# where a followed face's person is, in face sizes: to each side (shoulders, arms), above (hair, a hat), below
PERSON_SIDE, PERSON_ABOVE, PERSON_BELOW = 1.5, 1.0, 3.0
# a face's *look* (the cheap same-person check before an identity re-check's print): the inside of its box
# (LOOK_INNER cut off each side: background, hair), scaled so the box is LOOK_PX wide, grey; it is looked
# for within the followed box grown by LOOK_REACH a side (boxes jitter by ~10-20 % frame to frame)
LOOK_PX, LOOK_INNER, LOOK_REACH = 48, 0.15, 0.25
LOOK_SIZE_STEP = 1.25  # a box this much larger or smaller than at its last print does not compare
LOOK_MIN_STD = 4.0  # grey levels: a flatter template tells nothing
MAX_STEP = 2.0  # a followed face's predicted move between frames is capped at this many face widths


@dataclass(frozen=True)
class WatchOptions:
    min_face_px: int = 40  # smallest face checked, in pixels of the decoded frame (= source pixels up to 1080 lines)
    # the whole frame is searched at least this often (stream seconds). New faces are found where the
    # picture changed; this catches what that cannot: a small face that came up inside a followed
    # person's region, or one the detector missed while it moved and that then held still
    full_every_s: float = 30.0
    changed_only: bool = True  # between whole-frame searches, search only changed parts and followed faces
    changed_every_s: float = 2.0  # how often the parts that changed are searched for new faces
    # parts that changed at the last such search too (someone moving: vision.change.BusyCells) are
    # searched only this often; 0: at every changed-region search
    busy_every_s: float = 10.0  # 6 until the fifth #14 pass (60-s 720p bench room: faces 1.44 -> 1.19 CPU-s)
    # a followed face gets a new descriptor at least this often: someone else stepping into the same place is
    # noticed within this time (a descriptor costs ~60-80 ms and holds the GIL, so it stalls ASR's Python too)
    describe_every_s: float = 20.0
    # A print that is due (filling the best_k, a better frame, the re-check) is not taken while the followed
    # face still *looks* as at its last print and ranks no clearly better (BETTER_FRAME) than it: normalised
    # correlation of its grey pixels (LOOK_*) at least `same_look` (0: off). It would be that print again; a
    # print (~55 ms, GIL held) is taken at the first frame where it does not, and at the latest
    # verify_every_s after the last one. 100 LFW-subset faces: 0 of 9,900 pairs of different people pass at
    # 0.9 (1 at 0.85); the same face moved 6 px or scaled 8 % always does
    same_look: float = 0.9
    verify_every_s: float = 60.0
    # a track with fewer than best_k descriptors gets its next one at most this often: its best frames come
    # from several seconds of the appearance, not from its first best_k frames in a row
    fill_every_s: float = 2.0
    # faces are searched in the grey frame (dlib's HOG on one channel, not the strongest gradient of three:
    # ~30 % cheaper, detector scores ~5-10 % lower); descriptors are always computed on the colour frame
    grey: bool = True
    explained_by_tracks: bool = True  # changes inside a followed face's search region are not searched again
    best_k: int = 5  # described faces a track keeps as its best (its identity is their mean)
    track_margin: float = 0.75  # a followed face is searched for in its last box grown by this share on each side
    track: TrackOptions = field(default_factory=TrackOptions)

    def __post_init__(self):
        if not 20 <= self.min_face_px <= 1000:
            raise ValueError(f"min_face_px must be in 20..1000 (pixels), got {self.min_face_px}")
        if min(self.full_every_s, self.changed_every_s, self.busy_every_s, self.describe_every_s,
               self.fill_every_s, self.track_margin, self.verify_every_s) < 0 or self.best_k < 1 \
                or not 0 <= self.same_look <= 1:
            raise ValueError(f"need full_every_s, describe_every_s, track_margin >= 0 and best_k >= 1; got {self}")


@dataclass
class WatchStats:
    frames: int = 0
    full_searches: int = 0
    searched_px: int = 0  # frame pixels searched, all regions summed
    frame_px: int = 0  # frame pixels seen
    faces: int = 0
    described: int = 0
    same_look: int = 0  # prints due but not taken: the face looked as at its last print (WatchOptions.same_look)

    @property
    def searched_share(self) -> float:
        return self.searched_px / self.frame_px if self.frame_px else 0.0


class FaceWatch:
    """Stateful, one per stream: `update(t, image)` returns the tracks that ended; `finish()` the rest."""

    def __init__(self, analyzer: FaceAnalyzer | None = None, opts: WatchOptions = WatchOptions()):
        self.opts = opts
        self.analyzer = analyzer or FaceAnalyzer()
        self.tracker = FaceTracker(opts.track)
        self.stats = WatchStats()
        self._thumb: np.ndarray | None = None  # as of the last whole-frame or changed-region search
        self._last_full: float | None = None
        self._last_changed = 0.0
        self._busy = BusyCells(opts.busy_every_s)
        self._rested: set[int] = set()  # steady tracks not searched for at the last frame
        self._looks: dict[int, tuple[np.ndarray, int]] = {}  # track id -> its look at its last print, box width
        self._new_looks: list[tuple[Face, tuple[np.ndarray, int]]] = []  # this frame's prints' looks

    @property
    def active(self) -> list[Track]:
        return self.tracker.active

    def _searches(self, t: float, image: np.ndarray) -> list[tuple[Box, int]]:
        """(region, smallest face size to look for there) for this frame."""
        h, w = image.shape[:2]
        whole = [((0, 0, w, h), self.opts.min_face_px)]
        if self._last_full is None or t - self._last_full >= self.opts.full_every_s - 1e-6 \
                or not self.opts.changed_only or self._thumb is None or self._thumb.shape != thumbnail(image).shape:
            thumb = thumbnail(image)
            if self.opts.changed_only and self._thumb is not None and self._thumb.shape == thumb.shape:
                self._busy.fresh(t, changed_mask(self._thumb, thumb))  # what moves, for the next search
            self._busy.searched_all(t)
            self._last_full = self._last_changed = t
            self._thumb = thumb
            return whole
        # a followed face is looked for around its last box and where its motion takes it, at down to
        # half its size (cheap for a large face: a 150 px host is searched at ~1x, not 2x)
        rest = {tr.track_id for tr in self.tracker.active
                if tr.track_id not in self._rested and self._steady(tr)} if self.opts.changed_only else set()
        self._rested = rest
        out = [(grow_box(_heading(tr, t), self.opts.track_margin, image.shape, self.opts.min_face_px // 2),
                max(self.opts.min_face_px, int(FOLLOW_SHARE * _size(tr.last_box))))
               for tr in self.tracker.active if tr.track_id not in rest]
        if t - self._last_changed >= self.opts.changed_every_s - 1e-6:
            # new faces: everything that changed since the last such search, at the smallest size
            thumb = thumbnail(image)
            # what keeps moving search after search (a person walking, a presenter swaying) is searched
            # every busy_every_s; what changed only now (someone stepping in) at once
            fresh = self._busy.fresh(t, changed_mask(self._thumb, thumb))
            # tight: a walker's change and a swaying host's are searched apart, not as one box spanning both
            changed = mask_boxes(fresh, image.shape, margin_px=self.opts.min_face_px, tight=True)
            self._thumb, self._last_changed = thumb, t
            if self.opts.explained_by_tracks:
                # what changed where a followed person is (their face, shoulders, hands) is most likely
                # their own motion: searched there only for faces of at least half theirs (a 150 px host's
                # body at ~1x, not 2x); a smaller new face there is found by the next whole-frame search
                people = [(_person(tr.last_box, image.shape), size) for tr in self.tracker.active
                          if (size := int(0.5 * _size(tr.last_box))) > self.opts.min_face_px]
                out += [(part, size) for c in changed for p, size in people if box_area(part := _intersect(c, p))]
                changed = subtract_boxes(changed, [p for p, _ in people], overlap_px=self.opts.min_face_px)
            if sum(box_area(r) for r in changed) > FULL_FRAME_SHARE * w * h:
                self._last_full = t
                self._busy.searched_all(t)
                return whole
            out += [(r, self.opts.min_face_px) for r in changed]
        return out

    def _steady(self, track: Track) -> bool:
        """Large, found in each of its last two frames, and hardly moved between them."""
        if len(track.faces) < 2 or _size(track.last_box) < STEADY_SIZE * self.opts.min_face_px:
            return False
        a, b = track.faces[-2], track.faces[-1]
        step = max(abs(x - y) for x, y in zip(a.box, b.box))
        return step < STEADY_STEP * _size(b.box)

    def faces(self, t: float, image: np.ndarray) -> list[Face]:
        """This frame's faces; those continuing a followed face carry a descriptor only when due."""
        searches = self._searches(t, image)
        h, w = image.shape[:2]
        self.stats.frames += 1
        self.stats.frame_px += h * w
        self.stats.searched_px += min(h * w, sum(box_area(r) for r, _ in searches))
        self.stats.full_searches += bool(searches) and searches[0][0] == (0, 0, w, h)
        found: list[tuple[Box, float]] = []
        searched = _grey(image) if self.opts.grey and searches else image
        for region, min_px in searches:
            found += self.analyzer.detector.detect_scaled(searched, min_px, region)
        found = _dedupe(found)
        grey = (searched if searched.ndim == 2 else _grey(image)) if found and self.opts.same_look else None
        describe = [self._needs_descriptor(t, box, score, grey) for box, score in found]
        boxes = [box for (box, _), d in zip(found, describe) if d]
        embs = iter(self.analyzer.embedder.embed(image, boxes) if boxes else [])
        out = [Face(t, box, next(embs) if d else None, score) for (box, score), d in zip(found, describe)]
        self.stats.faces += len(out)
        self.stats.described += len(boxes)
        if grey is not None:
            self._new_looks = [(f, look) for f in out if f.embedding is not None
                               and (look := _look(grey, f.box)) is not None]
        return out

    def _needs_descriptor(self, t: float, box: Box, score: float, grey: np.ndarray | None = None) -> bool:
        overlapping = [tr for tr in self.tracker.active if box_iou(box, tr.last_box) >= SAME_FACE_IOU]
        if len(overlapping) != 1:
            return True  # a new face, or faces crossing: the descriptor decides
        track = overlapping[0]
        described = track.described
        since = t - described[-1].t
        rank = Face(t, box, None, score).rank
        if since < self.opts.describe_every_s - 1e-6:  # not yet the identity re-check (0: every frame)
            if len(described) < self.opts.best_k:
                if since < self.opts.fill_every_s - 1e-6:
                    return False
            # a clearly better frame than the worst of the track's best (ranks wobble ~10 % frame to frame)
            elif since < MIN_REDESCRIBE_S or \
                    rank <= BETTER_FRAME * min(f.rank for f in track.best(self.opts.best_k)):
                return False
        # a print due (filling the best, a better frame, the re-check) is not taken while the face still looks
        # as it did at its last print and ranks no clearly better than that frame (up to verify_every_s after
        # it): it would be that print again
        look = self._looks.get(track.track_id)
        if grey is not None and look is not None and since < self.opts.verify_every_s - 1e-6 \
                and rank <= BETTER_FRAME * described[-1].rank \
                and _same_look(grey, box, look, self.opts.same_look):
            self.stats.same_look += 1
            return False
        return True

    def update(self, t: float, image: np.ndarray) -> list[Track]:
        """Add the frame at stream time t; return the tracks that ended before it."""
        ended = self.tracker.update(t, self.faces(t, image))
        if self._new_looks:
            by_face = {id(f): look for f, look in self._new_looks}
            for tr in self.tracker.active:
                if id(tr.faces[-1]) in by_face:
                    self._looks[tr.track_id] = by_face[id(tr.faces[-1])]
            self._new_looks = []
        for tr in ended:
            self._looks.pop(tr.track_id, None)
        return ended

    def finish(self) -> list[Track]:
        self._looks.clear()
        return self.tracker.finish()


def _heading(track: Track, t: float) -> Box:
    """The followed face's last box joined with where it will be at t if it keeps moving as it did
    between its last two faces (at most MAX_STEP face widths away): a 40 px face walking 40 px a
    second leaves its last box grown by 75 % within one frame at 1 fps."""
    box = track.last_box
    if len(track.faces) < 2 or track.faces[-1].t - track.faces[-2].t <= 0:
        return box
    prev, last = track.faces[-2], track.faces[-1]
    k = (t - last.t) / (last.t - prev.t)
    limit = MAX_STEP * (box[2] - box[0])
    dx = max(-limit, min(limit, k * (last.box[0] + last.box[2] - prev.box[0] - prev.box[2]) / 2))
    dy = max(-limit, min(limit, k * (last.box[1] + last.box[3] - prev.box[1] - prev.box[3]) / 2))
    return (int(min(box[0], box[0] + dx)), int(min(box[1], box[1] + dy)), int(max(box[2], box[2] + dx)),
            int(max(box[3], box[3] + dy)))


def _look(grey: np.ndarray, box: Box) -> tuple[np.ndarray, int] | None:
    """The inside of a face box, grey, scaled so the box is LOOK_PX wide, and the box's width (None:
    too flat to compare)."""
    import cv2

    w = box[2] - box[0]
    cut = int(LOOK_INNER * w)
    crop = grey[box[1] + cut:box[3] - cut, box[0] + cut:box[2] - cut]
    if w <= 0 or min(crop.shape[:2]) < 4:
        return None
    k = LOOK_PX / w
    size = max(4, round(crop.shape[1] * k)), max(4, round(crop.shape[0] * k))
    template = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return (template, w) if float(template.std()) >= LOOK_MIN_STD else None


def _same_look(grey: np.ndarray, box: Box, look: tuple[np.ndarray, int], level: float) -> bool:
    """Whether the face in `box` looks as `look` (its last print's): the template's best normalised
    correlation within the box grown by LOOK_REACH is at least `level`, with the box scaled as at the
    print or as now (dlib's box size jumps between pyramid levels while the face keeps its size)."""
    import cv2

    template, w0 = look
    w = box[2] - box[0]
    if not w0 / LOOK_SIZE_STEP <= w <= w0 * LOOK_SIZE_STEP:
        return False  # nearer or further than at its print: compare prints
    x0, y0, x1, y1 = grow_box(box, LOOK_REACH, grey.shape)
    for k in dict.fromkeys((LOOK_PX / w0, LOOK_PX / w)):
        area = cv2.resize(grey[y0:y1, x0:x1], (max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k))),
                          interpolation=cv2.INTER_AREA)
        if area.shape[0] >= template.shape[0] and area.shape[1] >= template.shape[1] \
                and float(cv2.matchTemplate(area, template, cv2.TM_CCOEFF_NORMED).max()) >= level:
            return True
    return False


def _size(box: Box) -> int:
    return min(box[2] - box[0], box[3] - box[1])


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 and image.shape[2] == 3 else image


def _person(face: Box, shape: tuple[int, ...]) -> Box:
    """Where the person of a face box is (PERSON_*: shoulders, hands, a product held up), clipped to the frame."""
    fw, fh = face[2] - face[0], face[3] - face[1]
    h, w = shape[:2]
    return (max(0, int(face[0] - PERSON_SIDE * fw)), max(0, int(face[1] - PERSON_ABOVE * fh)),
            min(w, int(face[2] + PERSON_SIDE * fw)), min(h, int(face[3] + PERSON_BELOW * fh)))


def _intersect(a: Box, b: Box) -> Box:
    return max(a[0], b[0]), max(a[1], b[1]), max(max(a[0], b[0]), min(a[2], b[2])), max(max(a[1], b[1]), min(a[3], b[3]))


def _dedupe(found: list[tuple[Box, float]]) -> list[tuple[Box, float]]:
    """One box per face where searched regions overlapped: the higher-scoring of boxes overlapping by half."""
    keep: list[tuple[Box, float]] = []
    for box, score in sorted(found, key=lambda x: -x[1]):
        if all(box_iou(box, k) < 0.5 for k, _ in keep):
            keep.append((box, score))
    return keep
