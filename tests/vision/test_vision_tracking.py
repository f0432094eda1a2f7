"""Face tracks: one appearance is one track."""

from __future__ import annotations

import numpy as np
import pytest

from vision.faces import Face
from vision.tracking import FaceTracker, TrackOptions, box_iou, track_faces


def person(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v) * 0.6  # descriptors of different people are ~0.85 apart, like dlib's


def jitter(v: np.ndarray, seed: int) -> np.ndarray:
    return v + np.random.default_rng(seed).normal(scale=0.01, size=128).astype(np.float32)


def test_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


def test_two_people_swapping_places_stay_two_tracks():
    a, b = person(1), person(2)
    frames = []
    for t in range(6):
        left, right = ((0, 0, 100, 100), (300, 0, 400, 100))
        pa, pb = (left, right) if t < 3 else (right, left)  # they swap sides at t=3
        frames.append((float(t), [Face(t, pa, jitter(a, t), 1.0), Face(t, pb, jitter(b, 100 + t), 0.5 + t / 10)]))
    tracks = list(track_faces(frames))
    assert len(tracks) == 2
    for tr in tracks:
        assert len(tr.faces) == 6 and (tr.t0, tr.t1) == (0.0, 5.0)
        assert np.linalg.norm(tr.embeddings() - tr.embeddings()[0], axis=1).max() < 0.2  # one person each
    b_track = next(tr for tr in tracks if tr.faces[0].box == (300, 0, 400, 100))
    assert [f.t for f in b_track.best(2)] == [4, 5]  # best frames by quality, in time order


def test_a_gap_longer_than_max_gap_starts_a_new_track():
    a = person(3)
    frames = [(float(t), [Face(t, (0, 0, 90, 90), jitter(a, t), 1.0)] if t not in (3, 4, 5, 6) else [])
              for t in range(10)]
    tracks = list(track_faces(frames, TrackOptions(max_gap_s=2.0)))
    assert [(tr.t0, tr.t1) for tr in tracks] == [(0.0, 2.0), (7.0, 9.0)]
    assert len(list(track_faces(frames, TrackOptions(max_gap_s=5.0)))) == 1


def test_tracker_hands_back_ended_tracks_as_it_goes():
    tracker = FaceTracker(TrackOptions(max_gap_s=1.0))
    a = person(4)
    assert tracker.update(0.0, [Face(0.0, (0, 0, 90, 90), a, 1.0)]) == []
    ended = tracker.update(5.0, [])
    assert len(ended) == 1 and ended[0].t0 == 0.0 and tracker.active == []


def test_options_are_checked():
    with pytest.raises(ValueError):
        TrackOptions(same_distance=0.8, overlap_distance=0.5)
