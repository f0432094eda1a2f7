"""One appearance of a face = one track, so a host on screen for an hour is one match, not 3,600.

Frames come at 1 fps by default, and a presenter can move a lot in a second, so box overlap
(IoU) alone would split tracks; the face descriptor carries most of the decision. A face joins
the active track whose recent descriptors are closest, when that distance is below
`same_distance`, or below the looser `overlap_distance` when the boxes also overlap. A track
that has not been seen for `max_gap_s` is finished. Greedy assignment, cheapest pair first:
a live-commerce frame rarely holds more than a handful of faces.

Faces without a descriptor (`vision.appearances` describes a tracked face only every few seconds
or when it is a better frame than the track has) join a track by box overlap alone; one that
overlaps no track is dropped, since it could not be told apart from anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from vision.faces import EMBEDDING_DIM, Box, Face, face_distances

__all__ = ["TrackOptions", "Track", "FaceTracker", "track_faces", "box_iou"]

RECENT_FACES = 5  # a track is compared through the descriptors of its last few faces


@dataclass(frozen=True)
class TrackOptions:
    same_distance: float = 0.5  # descriptor distance that links faces wherever they are in the frame
    overlap_distance: float = 0.7  # looser distance allowed when the boxes also overlap
    iou_min: float = 0.3  # box overlap that counts as "the same place"
    # unseen for longer than this (seconds of stream time): the track ends. Long enough to ride out a
    # detector that misses a turned or blurred face for a few frames (issue #14: 11 of 60 frames
    # found gave 7 tracks at 3 s); appearances of one person are joined further in pipeline.impersonation.
    max_gap_s: float = 6.0

    def __post_init__(self):
        if not 0 < self.same_distance <= self.overlap_distance:
            raise ValueError(f"need 0 < same_distance <= overlap_distance, got {self.same_distance}, "
                             f"{self.overlap_distance}")
        if not 0 <= self.iou_min <= 1 or self.max_gap_s < 0:
            raise ValueError(f"need iou_min in [0, 1] and max_gap_s >= 0, got {self.iou_min}, {self.max_gap_s}")


@dataclass
class Track:
    track_id: int
    faces: list[Face] = field(default_factory=list)

    @property
    def t0(self) -> float:
        return self.faces[0].t

    @property
    def t1(self) -> float:
        return self.faces[-1].t

    @property
    def last_box(self) -> Box:
        return self.faces[-1].box

    @property
    def described(self) -> list[Face]:
        """The faces that have a descriptor."""
        return [f for f in self.faces if f.embedding is not None]

    def recent_embeddings(self) -> np.ndarray:
        return np.array([f.embedding for f in self.described[-RECENT_FACES:]], np.float32).reshape(-1, EMBEDDING_DIM)

    def best(self, k: int = 5) -> list[Face]:
        """The k described faces best for identity (Face.rank), in time order: the frames a reviewer should see."""
        top = sorted(self.described, key=lambda f: f.rank, reverse=True)[:k]
        return sorted(top, key=lambda f: f.t)

    def descriptor(self, k: int = 5) -> np.ndarray:
        """The mean descriptor of the k best faces: one print for the whole appearance, steadier than
        any single frame (a stranger's frames scatter around their own mean, not towards the gallery's)."""
        return np.mean([f.embedding for f in self.best(k)], axis=0).astype(np.float32)

    def embeddings(self) -> np.ndarray:
        return np.array([f.embedding for f in self.described], np.float32).reshape(-1, EMBEDDING_DIM)


def box_iou(a: Box, b: Box) -> float:
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Stateful: feed it the faces of each frame in time order; it hands back finished tracks."""

    def __init__(self, opts: TrackOptions = TrackOptions()):
        self.opts = opts
        self.active: list[Track] = []
        self._next_id = 0

    def update(self, t: float, faces: list[Face]) -> list[Track]:
        """Add one frame's faces (all at time t); return the tracks that ended before t."""
        ended = [tr for tr in self.active if t - tr.t1 > self.opts.max_gap_s]
        self.active = [tr for tr in self.active if tr not in ended]
        pairs = []
        described = [fi for fi, f in enumerate(faces) if f.embedding is not None]
        for ti, tr in enumerate(self.active):
            dists = face_distances(np.array([faces[fi].embedding for fi in described]),
                                   tr.recent_embeddings()).min(axis=1) if described else []
            dist_of = dict(zip(described, dists))
            for fi, face in enumerate(faces):
                iou = box_iou(face.box, tr.last_box)
                if fi not in dist_of:  # no descriptor: the place decides, ranked as a fair descriptor match
                    if iou >= self.opts.iou_min:
                        pairs.append((self.opts.same_distance - 0.2 * iou, ti, fi))
                    continue
                d = dist_of[fi]
                if d <= self.opts.same_distance or (iou >= self.opts.iou_min and d <= self.opts.overlap_distance):
                    pairs.append((float(d) - 0.2 * iou, ti, fi))
        used_t, used_f = set(), set()
        for _, ti, fi in sorted(pairs):
            if ti in used_t or fi in used_f:
                continue
            used_t.add(ti)
            used_f.add(fi)
            self.active[ti].faces.append(faces[fi])
        for fi, face in enumerate(faces):
            if fi not in used_f and face.embedding is not None:
                self.active.append(Track(self._next_id, [face]))
                self._next_id += 1
        return ended

    def finish(self) -> list[Track]:
        """End every active track (end of recording)."""
        ended, self.active = self.active, []
        return ended


def track_faces(frames: Iterable[tuple[float, list[Face]]], opts: TrackOptions = TrackOptions()) -> Iterator[Track]:
    """Tracks of a whole sequence of (t, faces) frames, each yielded as soon as it ends."""
    tracker = FaceTracker(opts)
    for t, faces in frames:
        yield from tracker.update(t, faces)
    yield from tracker.finish()
