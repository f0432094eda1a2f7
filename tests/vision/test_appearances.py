"""FaceWatch's schedule (issue #14): what is searched, in which image, and which faces get a print.

A stub analyzer stands in for dlib: it always finds one 160 px face and counts what it is asked, so
the schedule is checked exactly and without weights (the real detector is in test_small_faces.py)."""

from __future__ import annotations

import numpy as np

from vision.appearances import MIN_REDESCRIBE_S, FaceWatch, WatchOptions

FACE = (600, 200, 760, 360)


class _Detector:
    def __init__(self, scores: dict[float, float] | None = None, box=lambda t: FACE):
        self.calls: list[tuple[float, int, int, tuple]] = []  # (t, image ndim, min_px, region)
        self.scores = scores or {}
        self.box = box
        self.t = 0.0

    def detect_scaled(self, image, min_px, region=None):
        self.calls.append((self.t, image.ndim, min_px, region))
        return [(self.box(self.t), self.scores.get(self.t, 1.0))]


class _Embedder:
    def __init__(self):
        self.described: list[float] = []
        self.t = 0.0

    def embed(self, image, boxes):
        assert image.ndim == 3  # prints are always taken from the colour frame
        self.described += [self.t] * len(boxes)
        v = np.full(128, 0.05, np.float32)
        return np.tile(v, (len(boxes), 1))


class _Analyzer:
    def __init__(self, scores=None, box=lambda t: FACE):
        self.detector, self.embedder = _Detector(scores, box), _Embedder()


def _watch(analyzer, seconds: int, opts: WatchOptions = WatchOptions()) -> FaceWatch:
    watch = FaceWatch(analyzer, opts)
    still = np.full((720, 1280, 3), 90, np.uint8)
    for t in range(seconds):
        analyzer.detector.t = analyzer.embedder.t = float(t)
        watch.update(float(t), still)
    return watch


def test_a_followed_face_gets_prints_spread_over_its_first_seconds_then_one_per_describe_every_s():
    analyzer = _Analyzer()
    watch = _watch(analyzer, 60)
    opts = watch.opts
    assert opts.fill_every_s == 2.0 and opts.describe_every_s == 20.0 and opts.best_k == 5
    # best_k prints at least fill_every_s apart, then the identity re-check every describe_every_s: 7 in a
    # minute, not 60 (a large still face is searched for every other frame, so 3, 5, ... and 29 -> 50)
    assert analyzer.embedder.described == [0.0, 3.0, 5.0, 7.0, 9.0, 29.0, 50.0]
    assert len(watch.active) == 1 and len(watch.active[0].faces) == 31


def test_a_clearly_better_frame_gets_a_print_between_re_checks():
    analyzer = _Analyzer(scores={15.0: 2.0, 16.0: 2.0})
    _watch(analyzer, 30)
    # 15: ranks 2x the track's worst best frame and MIN_REDESCRIBE_S after the last print; 16: too soon
    assert analyzer.embedder.described == [0.0, 3.0, 5.0, 7.0, 9.0, 15.0]  # next re-check at 35
    assert MIN_REDESCRIBE_S > 1.0


def test_faces_are_searched_in_the_grey_frame_whole_every_full_every_s_and_followed_at_most_of_their_size():
    analyzer = _Analyzer()
    _watch(analyzer, 61)
    calls = analyzer.detector.calls
    assert {ndim for _, ndim, _, _ in calls} == {2}
    whole = [t for t, _, _, region in calls if region == (0, 0, 1280, 720)]
    assert whole == [0.0, 30.0, 60.0]
    follow = [min_px for t, _, min_px, region in calls if region != (0, 0, 1280, 720)]
    assert follow and set(follow) == {int(0.7 * 160)}  # a 160 px face is looked for at >= 112 px, not >= 80
    # grey off: the colour frame, as before
    colour = _Analyzer()
    _watch(colour, 3, WatchOptions(grey=False))
    assert {ndim for _, ndim, _, _ in colour.detector.calls} == {3}


def test_a_large_still_face_is_followed_every_other_frame_a_small_or_moving_one_every_frame():
    still = _Analyzer()
    faces = [f.t for f in _watch(still, 12).active[0].faces]
    assert faces == [0.0, 1.0, 3.0, 5.0, 7.0, 9.0, 11.0]  # found, found, then rests every other frame
    small = _Analyzer(box=lambda t: (600, 200, 660, 260))  # 60 px: under 2 x min_face_px
    assert len(_watch(small, 12).active[0].faces) == 12
    walking = _Analyzer(box=lambda t: (600 + 50 * int(t), 200, 760 + 50 * int(t), 360))  # 50 px a frame
    assert len(_watch(walking, 12).active[0].faces) == 12


def _textured(seed: int) -> np.ndarray:
    """A frame whose face box holds a textured picture (a face's look), different per seed."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((720, 1280, 3), 90, np.uint8)
    patch = cv2.GaussianBlur(rng.integers(0, 255, (160, 160)).astype(np.uint8), (9, 9), 0)
    img[FACE[1]:FACE[3], FACE[0]:FACE[2]] = patch[:, :, None]
    return img


def _run(analyzer, frames, opts: WatchOptions = WatchOptions()) -> FaceWatch:
    watch = FaceWatch(analyzer, opts)
    for t, image in frames:
        analyzer.detector.t = analyzer.embedder.t = float(t)
        watch.update(float(t), image)
    return watch


def test_a_face_that_still_looks_as_at_its_last_print_gets_no_other_print_until_verify_every_s():
    same = _textured(1)
    analyzer = _Analyzer()
    watch = _run(analyzer, [(t, same) for t in range(72)])
    assert watch.opts.same_look == 0.9 and watch.opts.verify_every_s == 60.0
    # no fill prints (3, 5, 7, 9), no re-checks (29, 50): each would be the print of 0 again; then the
    # print verify_every_s after it (60: a whole-frame search finds it there)
    assert analyzer.embedder.described == [0.0, 60.0]
    assert watch.stats.same_look > 0
    # same_look 0: as on an untextured frame (the test above)
    plain = _Analyzer()
    _run(plain, [(t, same) for t in range(60)], WatchOptions(same_look=0.0))
    assert plain.embedder.described == [0.0, 3.0, 5.0, 7.0, 9.0, 29.0, 50.0]
    # a frame ranking clearly (BETTER_FRAME) above the last print's is printed even when it looks the same
    better = _Analyzer(scores={15.0: 2.0, 17.0: 2.0})
    _run(better, [(t, same) for t in range(30)])
    assert better.embedder.described == [0.0, 15.0]  # 17: no better than the print at 15


def test_someone_else_in_the_followed_box_gets_a_print_at_once():
    a, b = _textured(1), _textured(2)
    analyzer = _Analyzer()
    # another face in the same place from 40 s: the box is followed on by overlap, but its look differs
    _run(analyzer, [(t, a if t < 40 else b) for t in range(60)])
    assert analyzer.embedder.described == [0.0, 40.0]  # 40: the change there is searched at once
    # the same person nearer the camera (a box 1.5x as large) is compared by print, not by look
    near = _Analyzer(box=lambda t: FACE if t < 40 else (560, 160, 800, 400))
    _run(near, [(t, a) for t in range(60)])
    assert near.embedder.described[:2] == [0.0, 40.0]
