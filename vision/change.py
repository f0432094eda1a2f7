"""Where the picture changed between two sampled frames: differencing of small, blurred grey thumbnails.

Faces and on-screen text cost tens to hundreds of milliseconds per frame to find, but a live room
is mostly still: the set, the price stickers and the AI label stay put while the presenter moves.
A part of the frame whose pixels did not change cannot hold a face or a line of text that was not
there before, so the detectors only look again where something changed (and, on a slower clock,
everywhere: `vision.appearances`, `vision.ocr`). A thumbnail is 1/8 of the frame each way and costs
about a millisecond; blurring keeps compression noise under `DIFF_LEVEL`.
"""

from __future__ import annotations

import numpy as np

from vision.faces import Box

__all__ = ["THUMB_CELL_PX", "DIFF_LEVEL", "thumbnail", "changed_mask", "mask_boxes", "changed_boxes", "merge_boxes",
           "grow_box", "box_area", "subtract_boxes", "BusyCells"]

THUMB_CELL_PX = 8  # one thumbnail pixel per 8 x 8 frame pixels
DIFF_LEVEL = 10.0  # grey levels (of 255) a blurred thumbnail pixel must move to count as changed; H.264 noise is ~2-4


def _cv2():
    import cv2

    return cv2


def thumbnail(image: np.ndarray) -> np.ndarray:
    """Grey float32 thumbnail, 1/THUMB_CELL_PX of the frame each way, lightly blurred."""
    cv2 = _cv2()
    h, w = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (max(1, w // THUMB_CELL_PX), max(1, h // THUMB_CELL_PX)), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small.astype(np.float32), (3, 3), 0)


def box_area(b: Box) -> int:
    return max(0, b[2] - b[0]) * max(0, b[3] - b[1])


def grow_box(b: Box, margin: float, shape: tuple[int, ...], min_px: int = 0) -> Box:
    """`b` grown by `margin` of its size (and at least `min_px`) on each side, clipped to the frame."""
    h, w = shape[:2]
    mx = max(int((b[2] - b[0]) * margin), min_px)
    my = max(int((b[3] - b[1]) * margin), min_px)
    return max(0, b[0] - mx), max(0, b[1] - my), min(w, b[2] + mx), min(h, b[3] + my)


def _minus(b: Box, cut: Box) -> list[Box]:
    """`b` less `cut`: up to four boxes (the strips above, below, left and right of the overlap)."""
    ix0, iy0, ix1, iy1 = max(b[0], cut[0]), max(b[1], cut[1]), min(b[2], cut[2]), min(b[3], cut[3])
    if ix0 >= ix1 or iy0 >= iy1:
        return [b]
    pieces = [(b[0], b[1], b[2], iy0), (b[0], iy1, b[2], b[3]), (b[0], iy0, ix0, iy1), (ix1, iy0, b[2], iy1)]
    return [p for p in pieces if box_area(p) > 0]


def subtract_boxes(boxes: list[Box], cuts: list[Box], overlap_px: int = 0) -> list[Box]:
    """The parts of `boxes` outside every box of `cuts`, each part grown by `overlap_px` back into
    what was cut (within its own box), so that something straddling a cut's edge is still whole
    in one part. Parts may overlap by that much (merging them would give back the box they came from)."""
    out = []
    for b in boxes:
        parts = [b]
        for c in cuts:
            parts = [q for p in parts for q in _minus(p, c)]
        out += [(max(b[0], p[0] - overlap_px), max(b[1], p[1] - overlap_px), min(b[2], p[2] + overlap_px),
                 min(b[3], p[3] + overlap_px)) for p in parts]
    return out


def merge_boxes(boxes: list[Box], tight: bool = False) -> list[Box]:
    """Union of overlapping boxes until none overlap (a handful of boxes: quadratic is fine).

    `tight`: two overlapping boxes are joined only when their union's box is no larger than the two
    together (searching it once costs no more); otherwise both stay and may overlap. Two changes far
    apart joined by a thin overlap (a walker's and a swaying host's) no longer become one box
    spanning the still set between them."""
    out = [tuple(b) for b in boxes if box_area(b) > 0]
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    u = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    if tight and box_area(u) > box_area(a) + box_area(b):
                        continue
                    out[i] = u
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return out


def changed_mask(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Thumbnail cells (bool, thumbnail-sized) whose blurred grey level moved more than DIFF_LEVEL."""
    return np.abs(cur - prev) > DIFF_LEVEL


def mask_boxes(mask: np.ndarray, shape: tuple[int, ...], margin_px: int = 24, min_cells: int = 2,
               tight: bool = False) -> list[Box]:
    """Boxes (frame pixels) around every group of set cells of a thumbnail-sized `mask`, grown by
    `margin_px`, overlapping ones merged (`tight`: see merge_boxes); groups under `min_cells` (one
    noisy pixel) are left out."""
    if not mask.any():
        return []
    cv2 = _cv2()
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = []
    for x, y, bw, bh, area in stats[1:n]:
        if area < min_cells:
            continue  # one noisy thumbnail pixel
        box = (int(x * THUMB_CELL_PX), int(y * THUMB_CELL_PX), int((x + bw) * THUMB_CELL_PX),
               int((y + bh) * THUMB_CELL_PX))
        boxes.append(grow_box(box, 0.0, shape, margin_px))
    return merge_boxes(boxes, tight)


def changed_boxes(prev: np.ndarray | None, cur: np.ndarray, shape: tuple[int, ...], margin_px: int = 24,
                  min_cells: int = 2) -> list[Box]:
    """Boxes (frame pixels) around every part of the frame that changed from thumbnail `prev` to
    `cur`, grown by `margin_px`, overlapping ones merged. No `prev` or a different size: the whole frame."""
    h, w = shape[:2]
    if prev is None or prev.shape != cur.shape:
        return [(0, 0, w, h)]
    return mask_boxes(changed_mask(prev, cur), shape, margin_px, min_cells)


class BusyCells:
    """Splits each search's changed cells into *fresh* ones, searched now, and *busy* ones, searched
    together every `every_s`. A cell is busy when it changed at this search and near (within `reach`
    cells) one that changed at the last: something keeps moving there (a presenter swaying, a
    person walking). What appears (an overlay, a face stepping in) changes its cells at one search;
    if it then holds still it was fresh when it came, and if it keeps moving it is searched within
    `every_s`. `every_s` = 0: every changed cell is fresh."""

    def __init__(self, every_s: float, reach: int = 2):
        self.every_s, self.reach = every_s, reach
        self.deferred_px = 0  # frame pixels of busy cells (counted once per search they were busy at)
        self._moved: np.ndarray | None = None  # cells that changed at the last search
        self._pending: np.ndarray | None = None  # busy cells not searched since
        self._last = 0.0  # when busy cells were last searched

    def searched_all(self, t: float) -> None:
        """The whole frame was searched at t: nothing is pending."""
        self._pending, self._last = None, t

    def fresh(self, t: float, moved: np.ndarray | None) -> np.ndarray | None:
        """The cells of `moved` (this search's changed cells; None: the frame changed size) to search now."""
        prev, self._moved = self._moved, moved
        if moved is None or not self.every_s or prev is None or prev.shape != moved.shape:
            return moved
        near = _cv2().dilate(prev.astype(np.uint8), np.ones((2 * self.reach + 1,) * 2, np.uint8)).astype(bool)
        busy = moved & near
        self._pending = busy if self._pending is None or self._pending.shape != busy.shape else self._pending | busy
        self.deferred_px += int(busy.sum()) * THUMB_CELL_PX ** 2
        if t - self._last >= self.every_s - 1e-6:
            out, self._pending, self._last = moved | self._pending, None, t
            return out
        return moved & ~busy
