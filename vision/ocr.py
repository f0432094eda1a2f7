"""On-screen text: RapidOCR (PP-OCRv4 detection + recognition, Chinese and English) on sampled frames.

The weights ship inside the PyPI wheel `rapidocr-onnxruntime==1.4.4` (Apache-2.0). It costs about
0.9 s for a 640 x 360 frame on one CPU core, most of it text detection, so frames are read at most
once every `interval_s` seconds of stream time; price stickers and AI labels stay on screen for
many seconds, so little is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ingest.decode import VideoFrame
from liveguard.errors import ModelError
from vision.errors import VisionError
from vision.faces import Box, as_rgb

__all__ = ["OCR_MODEL_ID", "OcrOptions", "ScreenText", "ScreenReader"]

OCR_MODEL_ID = "rapidocr-ppocrv4@1.4.4"


@dataclass(frozen=True)
class OcrOptions:
    interval_s: float = 2.0  # read at most one frame per this many seconds of stream time (0: every frame)
    min_score: float = 0.6  # recognition confidence below which a text line is dropped

    def __post_init__(self):
        if self.interval_s < 0 or not 0 <= self.min_score <= 1:
            raise ValueError(f"need interval_s >= 0 and min_score in [0, 1], got {self.interval_s}, {self.min_score}")


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

    @cached_property
    def _engine(self):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise ModelError("OCR needs rapidocr-onnxruntime==1.4.4 (and opencv-python-headless<5)") from exc
        try:
            return RapidOCR()
        except Exception as exc:  # noqa: BLE001 - onnxruntime / yaml errors on corrupt package files
            raise ModelError(f"cannot load the OCR models: {exc}") from exc

    def read(self, image: np.ndarray, t: float = 0.0) -> list[ScreenText]:
        img = as_rgb(image)[:, :, ::-1]  # RapidOCR takes OpenCV's BGR order for arrays
        try:
            result, _ = self._engine(np.ascontiguousarray(img))
        except (RuntimeError, ValueError) as exc:
            raise VisionError(f"OCR failed on the frame at t={t:.1f}: {exc}") from exc
        out = []
        for quad, text, score in result or []:
            xs, ys = [p[0] for p in quad], [p[1] for p in quad]
            if float(score) >= self.opts.min_score and text.strip():
                out.append(ScreenText(t, (int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))), text.strip(),
                                      round(float(score), 4)))
        return out

    def read_frames(self, frames: Iterable[VideoFrame]) -> Iterator[tuple[float, list[ScreenText]]]:
        """(t, lines) for the frames picked on the interval grid, in time order."""
        next_t = None
        for frame in frames:
            if next_t is not None and frame.t < next_t - 1e-6:
                continue
            next_t = frame.t + self.opts.interval_s
            yield frame.t, self.read(frame.image, frame.t)
