"""On-screen text: RapidOCR (PP-OCRv4 detection + recognition, Chinese and English) on sampled frames.

The weights ship inside the PyPI wheel `rapidocr-onnxruntime==1.4.4` (Apache-2.0). A reading costs
~0.2-0.9 s of CPU (2 shared cores), most of it text detection, so frames are read at most once
every `interval_s` seconds of stream time; price stickers and AI labels stay on screen for many
seconds, so little is lost.

Text detection runs on the frame scaled to `det_height` lines (PP-OCR's detector wants ~736 px on
the short side: a 1080p frame is shrunk, a 360p one enlarged, so the cost does not grow with the
source). `ScreenWatch` (one per stream) pays that only for what changed (issue #14): between whole
readings every `full_every_s`, it detects text only where the picture changed since the last
reading (`vision.change`), keeps the lines elsewhere as they were, and recognises only lines whose
pixels are new. What changes reading after reading (a presenter moving) is not an overlay
appearing: those parts are detected only every `busy_every_s`. Angle classification is off by
default: overlays in a live room are upright. ONNX Runtime runs one thread per model: the visual
check shares the cores with ASR, and a second thread mostly spun.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ingest.decode import VideoFrame
from liveguard.errors import ModelError
from vision.change import DIFF_LEVEL, BusyCells, box_area, changed_mask, grow_box, mask_boxes, merge_boxes, thumbnail
from vision.errors import VisionError
from vision.faces import Box, as_rgb

__all__ = ["OCR_MODEL_ID", "OcrOptions", "ScreenText", "ScreenReader", "ScreenWatch", "OcrStats"]

OCR_MODEL_ID = "rapidocr-ppocrv4@1.4.4"
FULL_READ_SHARE = 0.8  # changed regions covering more of the frame than this: read it whole (a whole reading costs
# ~1.5x per pixel what regions do; at 0.6, two of the bench room's busy-region readings a minute were whole ones)
PATCH_H = 12  # a line's pixels are compared at this height to tell whether it must be read again
BUSY_REACH_CELLS = 2  # a cell changing now within this many thumbnail cells (16 px) of last reading's change is "busy"


@dataclass(frozen=True)
class OcrOptions:
    interval_s: float = 2.0  # read at most one frame per this many seconds of stream time (0: every frame)
    min_score: float = 0.6  # recognition confidence below which a text line is dropped
    det_height: int = 720  # frames are scaled to this many lines for text detection
    use_cls: bool = False  # PP-OCR's 180-degree classifier: needed only for upside-down text
    gate: bool = True  # ScreenWatch: between whole readings, read only where the picture changed
    # ScreenWatch: a whole reading at least this often. Text that appears or changes is read where the
    # picture changed; this re-checks what that cannot see (a change under the differencing threshold)
    full_every_s: float = 60.0
    # ScreenWatch: parts that keep changing reading after reading (a presenter moving, not an overlay
    # appearing) are detected at most this often; 0: at every reading like any other change
    busy_every_s: float = 20.0  # 10 until the fifth #14 pass (60-s 720p bench room: 1.04 -> 0.83 CPU-s, same text)
    # ONNX Runtime threads per OCR model (read when the models load). 1: the visual check runs beside
    # ASR; a second thread mostly spun (720p room: 5.5 -> 3.2 CPU-s for the same readings)
    threads: int = 1

    def __post_init__(self):
        if self.interval_s < 0 or not 0 <= self.min_score <= 1:
            raise ValueError(f"need interval_s >= 0 and min_score in [0, 1], got {self.interval_s}, {self.min_score}")
        if not 120 <= self.det_height <= 2160 or self.full_every_s < 0 or self.busy_every_s < 0 or self.threads < 1:
            raise ValueError(f"need det_height in 120..2160, full_every_s >= 0, busy_every_s >= 0 and threads >= 1, "
                             f"got {self.det_height}, {self.full_every_s}, {self.busy_every_s}, {self.threads}")


@dataclass(frozen=True)
class ScreenText:
    t: float  # stream seconds of the frame
    box: Box
    text: str
    score: float


class ScreenReader:
    """Text lines in frames. The ONNX sessions are created on first use (~0.6 s)."""

    model_id = OCR_MODEL_ID

    def __init__(self, opts: OcrOptions = OcrOptions()):
        self.opts = opts

    def with_options(self, opts: OcrOptions) -> ScreenReader:
        """A reader with other options sharing this one's loaded models."""
        other = ScreenReader(opts)
        if "_engine" in self.__dict__:
            other.__dict__["_engine"] = self.__dict__["_engine"]
        return other

    @cached_property
    def _engine(self):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise ModelError("OCR needs rapidocr-onnxruntime==1.4.4 (and opencv-python-headless<5)") from exc
        try:
            return RapidOCR(intra_op_num_threads=self.opts.threads, inter_op_num_threads=1)
        except Exception as exc:  # noqa: BLE001 - onnxruntime / yaml errors on corrupt package files
            raise ModelError(f"cannot load the OCR models: {exc}") from exc

    def scaled(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The frame as the detector sees it (BGR, `det_height` lines) and its scale from the frame."""
        import cv2

        img = as_rgb(image)
        scale = self.opts.det_height / img.shape[0]
        if abs(scale - 1.0) > 1e-3:
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            img = cv2.resize(img, (round(img.shape[1] * scale), self.opts.det_height), interpolation=interp)
        return np.ascontiguousarray(img[:, :, ::-1]), scale  # RapidOCR takes OpenCV's BGR order

    def detect(self, scaled: np.ndarray, region: Box | None = None) -> list[np.ndarray]:
        """Text quads (scaled-frame pixels) in `region` of the scaled frame, as found there, no resizing."""
        h, w = scaled.shape[:2]
        x0, y0, x1, y1 = region if region is not None else (0, 0, w, h)
        crop = np.ascontiguousarray(scaled[y0:y1, x0:x1])
        if min(crop.shape[:2]) < 16:
            return []
        det = self._engine.text_det
        # "max" keeps the crop's own scale (the default "min" enlarges anything under 736 px, so a
        # small changed region would cost as much as a whole frame)
        det.limit_type = "max"
        boxes, _ = det(crop)
        if boxes is None or not len(boxes):
            return []
        boxes = self._engine.sorted_boxes(np.asarray(boxes, np.float32))
        return [q + np.array([x0, y0], np.float32) for q in boxes]

    def recognise(self, scaled: np.ndarray, quads: list[np.ndarray]) -> list[tuple[str, float]]:
        if not quads:
            return []
        crops = self._engine.get_crop_img_list(scaled, [q.copy() for q in quads])
        if self.opts.use_cls:
            crops, _, _ = self._engine.text_cls(crops)
        rec, _ = self._engine.text_rec(crops)
        return [(r[0], float(r[1])) for r in rec]

    def lines(self, t: float, quads: list[np.ndarray], texts: list[tuple[str, float]], scale: float,
              shape: tuple[int, ...]) -> list[ScreenText]:
        out = []
        for quad, (text, score) in zip(quads, texts):
            if score >= self.opts.min_score and text.strip():
                out.append(ScreenText(t, _frame_box(quad, scale, shape), text.strip(), round(score, 4)))
        return out

    def read(self, image: np.ndarray, t: float = 0.0) -> list[ScreenText]:
        """Every text line of the frame."""
        try:
            scaled, scale = self.scaled(image)
            quads = self.detect(scaled)
            return self.lines(t, quads, self.recognise(scaled, quads), scale, image.shape)
        except (RuntimeError, ValueError) as exc:
            raise VisionError(f"OCR failed on the frame at t={t:.1f}: {exc}") from exc

    def read_frames(self, frames: Iterable[VideoFrame]) -> Iterator[tuple[float, list[ScreenText]]]:
        """(t, lines) for the frames picked on the interval grid, in time order."""
        next_t = None
        for frame in frames:
            if next_t is not None and frame.t < next_t - 1e-6:
                continue
            next_t = frame.t + self.opts.interval_s
            yield frame.t, self.read(frame.image, frame.t)


def _frame_box(quad: np.ndarray, scale: float, shape: tuple[int, ...]) -> Box:
    h, w = shape[:2]
    xs, ys = quad[:, 0] / scale, quad[:, 1] / scale
    return (max(0, int(xs.min())), max(0, int(ys.min())), min(w, int(np.ceil(xs.max()))),
            min(h, int(np.ceil(ys.max()))))


def _patch(scaled: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """A line's pixels, grey, PATCH_H high: enough to tell an unchanged line from new text."""
    import cv2

    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    crop = scaled[max(0, y0):max(y0 + 1, y1), max(0, x0):max(x0 + 1, x1)]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    width = max(1, round(grey.shape[1] * PATCH_H / max(1, grey.shape[0])))
    return cv2.resize(grey, (width, PATCH_H), interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass
class OcrStats:
    readings: int = 0
    full: int = 0  # whole-frame readings
    reused: int = 0  # readings where nothing changed: no model ran
    detected_px: int = 0  # scaled-frame pixels given to text detection
    frame_px: int = 0
    recognised: int = 0  # lines given to recognition
    lines_kept: int = 0  # lines carried over unread (unchanged pixels)
    busy_px: int = 0  # changed pixels (scaled frame) found busy, their detection deferred (busy_every_s)


@dataclass
class _Line:
    quad: np.ndarray  # scaled-frame pixels
    box: Box  # scaled-frame pixels
    text: str
    score: float
    patch: np.ndarray


class ScreenWatch:
    """On-screen text of one stream at the cost of what changes (see the module doc).

    `read(t, image)` returns the lines on screen at t, as `ScreenReader.read` would, reading again
    only text that may have changed. Lines under the recognition threshold are tracked too (so
    they are not re-read every time), but only confident ones are returned."""

    def __init__(self, reader: ScreenReader | None = None, opts: OcrOptions | None = None):
        self.reader = reader or ScreenReader(opts or OcrOptions())
        self.opts = opts or self.reader.opts
        self.stats = OcrStats()
        self._lines: list[_Line] = []
        self._thumb: np.ndarray | None = None
        self._last_full: float | None = None
        self._shape: tuple[int, ...] | None = None
        # what keeps changing reading after reading (a presenter moving) is detected every busy_every_s
        self._busy = BusyCells(self.opts.busy_every_s, BUSY_REACH_CELLS)

    def read(self, t: float, image: np.ndarray) -> list[ScreenText]:
        try:
            return self._read(t, image)
        except (RuntimeError, ValueError) as exc:
            raise VisionError(f"OCR failed on the frame at t={t:.1f}: {exc}") from exc

    def _read(self, t: float, image: np.ndarray) -> list[ScreenText]:
        r = self.reader
        scaled, scale = r.scaled(image)
        h, w = scaled.shape[:2]
        thumb = thumbnail(scaled)
        self.stats.readings += 1
        self.stats.frame_px += h * w
        due = (not self.opts.gate or self._last_full is None or self._shape != scaled.shape
               or t - self._last_full >= self.opts.full_every_s - 1e-6)
        # what changed since the last reading (the whole frame for a first or resized one)
        moved = changed_mask(self._thumb, thumb) if self._thumb is not None and self._thumb.shape == thumb.shape \
            else None
        fresh = self._busy.fresh(t, moved)
        self.stats.busy_px = self._busy.deferred_px
        if due or fresh is None:
            changed = [(0, 0, w, h)]
        else:
            changed = mask_boxes(fresh, scaled.shape, margin_px=8)
        self._thumb, self._shape = thumb, scaled.shape
        if not changed:
            self.stats.reused += 1
            self.stats.lines_kept += len(self._lines)
            return self._out(t, scale, image.shape)
        # a line touched by a change is detected again whole: its box joins the region
        touched = [ln for ln in self._lines if any(_overlap(ln.box, c) for c in changed)]
        regions = merge_boxes(changed + [grow_box(ln.box, 0.0, scaled.shape, 8) for ln in touched])
        if due or sum(box_area(b) for b in regions) > FULL_READ_SHARE * w * h:
            regions, self._last_full = [(0, 0, w, h)], t
            self._busy.searched_all(t)
            self.stats.full += 1
        kept = [ln for ln in self._lines if not any(_overlap(ln.box, g) for g in regions)]
        quads = [q for g in regions for q in r.detect(scaled, g)]
        self.stats.detected_px += sum(box_area(g) for g in regions)
        new, to_read = [], []
        for q in quads:
            patch = _patch(scaled, q)
            old = next((ln for ln in touched if _same_line(ln, q, patch)), None)
            line = _Line(q, _quad_box(q), old.text if old else "", old.score if old else 0.0, patch)
            new.append(line)
            if old is None:
                to_read.append(line)
        for line, (text, score) in zip(to_read, r.recognise(scaled, [ln.quad for ln in to_read])):
            line.text, line.score = text, score
        self.stats.recognised += len(to_read)
        self.stats.lines_kept += len(kept) + len(new) - len(to_read)
        self._lines = kept + new
        return self._out(t, scale, image.shape)

    def _out(self, t: float, scale: float, shape: tuple[int, ...]) -> list[ScreenText]:
        lines = sorted(self._lines, key=lambda ln: (ln.box[1], ln.box[0]))
        return self.reader.lines(t, [ln.quad for ln in lines], [(ln.text, ln.score) for ln in lines], scale, shape)


def _same_line(line: _Line, quad: np.ndarray, patch: np.ndarray) -> bool:
    """The detected quad is `line` again, with the same pixels: its text need not be read again.
    (Boxes wobble by a pixel or two between detections, so patches are compared at the old width.)"""
    import cv2

    from vision.tracking import box_iou

    if box_iou(line.box, _quad_box(quad)) < 0.6 or abs(patch.shape[1] - line.patch.shape[1]) > 0.1 * line.patch.shape[1]:
        return False
    resized = cv2.resize(patch, (line.patch.shape[1], PATCH_H), interpolation=cv2.INTER_AREA)
    return float(np.abs(resized - line.patch).mean()) < DIFF_LEVEL / 2


def _quad_box(q: np.ndarray) -> Box:
    return int(q[:, 0].min()), int(q[:, 1].min()), int(np.ceil(q[:, 0].max())), int(np.ceil(q[:, 1].max()))


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
